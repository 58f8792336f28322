"""JupyterHub as a child process: started with the workshop's config on free ports, always stopped.

    with running_hub(roster, workshop_dir) as hub:
        hub.api("GET", "/users")            # the hub's REST API with the rehearsal service's token

Stopping sends SIGTERM (the hub stops the learners' servers and its proxy), waits, then kills whatever
the hub had started and is still alive, and checks that the public port is free again.
"""
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import requests

from helpers.course.atomic import write_text_atomic
from helpers.course.orphan_guard import guarded
from helpers.workshop.hub_config import PROXY_COMMAND, SECRET_ENV, WORKSHOP_DIR, hub_settings, render_config


class HubError(RuntimeError):
    """The hub did not start, or did not answer, in time; the message ends with its log's last lines."""


def free_port(host="127.0.0.1") -> int:
    """A TCP port nobody listens on right now (the kernel picks it)."""
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def port_is_free(port: int, host="127.0.0.1") -> bool:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        return sock.connect_ex((host, port)) != 0


def load_or_create_secrets(hub_dir) -> dict:
    """The workshop's passwords and API token, kept in ``hub_dir/secrets.json`` (mode 0600) so a
    restarted hub keeps them. Learners' password: 16 characters; admin password: 43 (at least 32)."""
    path = Path(hub_dir) / "secrets.json"
    if path.exists():
        return json.loads(path.read_text())
    values = {"user_password": secrets.token_urlsafe(12), "admin_password": secrets.token_urlsafe(32),
              "api_token": secrets.token_hex(32)}
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, json.dumps(values, indent=1))
    os.chmod(path, 0o600)
    return values


def proxy_installed(proxy_command=PROXY_COMMAND) -> bool:
    return Path(proxy_command).is_file()


@dataclass
class RunningHub:
    """A started hub: its process, public URL, the rehearsal service's API token, its folders."""
    process: subprocess.Popen
    url: str  # public URL, e.g. http://127.0.0.1:8000
    api_token: str
    workshop_dir: Path
    port: int
    log_path: Path
    secrets: dict = field(repr=False, default_factory=dict)

    def api(self, method: str, path: str, timeout=30, **kwargs) -> requests.Response:
        """Call the hub's REST API (``path`` below /hub/api) with the service token."""
        headers = {"Authorization": f"token {self.api_token}", **kwargs.pop("headers", {})}
        return requests.request(method, f"{self.url}/hub/api{path}", headers=headers, timeout=timeout, **kwargs)

    def processes(self) -> list:
        """The hub and everything it started that is alive now (proxy, learners' servers, kernels)."""
        try:
            root = psutil.Process(self.process.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []


def log_tail(path, lines=15) -> str:
    path = Path(path)
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else "(no log)"


def wait_for_api(url: str, process, log_path, timeout_s=90.0) -> None:
    """Poll ``url/hub/api`` until it answers 200; HubError if the hub exits or the time runs out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise HubError(f"the hub exited with code {process.returncode} before answering:\n{log_tail(log_path)}")
        try:
            if requests.get(f"{url}/hub/api", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise HubError(f"the hub did not answer {url}/hub/api within {timeout_s:.0f} s:\n{log_tail(log_path)}")


def start_hub(roster, workshop_dir=WORKSHOP_DIR, *, ip="127.0.0.1", port=None, timeout_s=90.0, **settings) -> RunningHub:
    """Write jupyterhub_config.py, start the hub (free ports unless given) and wait for its API."""
    proxy_command = settings.get("proxy_command", PROXY_COMMAND)
    if not proxy_installed(proxy_command):
        raise HubError(f"configurable-http-proxy is not installed at {proxy_command}: run `make workshop-proxy`")
    workshop_dir = Path(workshop_dir)
    hub_dir = workshop_dir / "hub"
    hub_dir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    values = hub_settings(roster, workshop_dir=workshop_dir, ip=ip, port=port,
                          hub_port=settings.pop("hub_port", None) or free_port(),
                          proxy_api_port=settings.pop("proxy_api_port", None) or free_port(),
                          allow_root=os.geteuid() == 0, **settings)
    config_path = hub_dir / "jupyterhub_config.py"
    write_text_atomic(config_path, render_config(values))
    keys = load_or_create_secrets(hub_dir)
    env = {**os.environ, **{SECRET_ENV[name]: keys[name] for name in SECRET_ENV}}
    log_path = hub_dir / "jupyterhub.log"
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            guarded([str(Path(sys.executable).parent / "jupyterhub"), "-f", str(config_path)]),  # dies with this process
            cwd=hub_dir, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    hub = RunningHub(process, f"http://127.0.0.1:{port}", keys["api_token"], workshop_dir, port, log_path, keys)
    try:
        wait_for_api(hub.url, process, log_path, timeout_s)
    except BaseException:
        stop_hub(hub)
        raise
    return hub


def stop_hub(hub: RunningHub, timeout_s=30.0) -> None:
    """SIGTERM the hub (it stops servers and proxy), then kill whatever it started that survived."""
    started = hub.processes()
    if hub.process.poll() is None:
        hub.process.send_signal(signal.SIGTERM)
        try:
            hub.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            hub.process.kill()
            hub.process.wait()
    survivors = [p for p in started[1:] if p.is_running()]
    for proc in survivors:
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(survivors, timeout=10)
    deadline = time.monotonic() + 10
    while not port_is_free(hub.port) and time.monotonic() < deadline:
        time.sleep(0.2)


@contextmanager
def running_hub(roster, workshop_dir=WORKSHOP_DIR, **options):
    """``start_hub`` as a context manager: the hub and all it started are stopped on the way out."""
    hub = start_hub(roster, workshop_dir, **options)
    try:
        yield hub
    finally:
        stop_hub(hub)
