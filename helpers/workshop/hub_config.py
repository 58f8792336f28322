"""JupyterHub's configuration for the workshop, as plain values, and the file that carries them.

``hub_settings`` is a pure function: roster and folders in, ``{section: {trait: value}}`` out, the
values of ``jupyterhub_config.py``. ``render_config`` writes them as that file; the secrets (passwords,
the rehearsal's API token) are not in it: the file reads them from the hub's environment.

What the settings say, honestly:

* **Login**: JupyterHub's ``SharedPasswordAuthenticator``: the roster's learners log in with one
  workshop password, the admins (instructors) with a separate admin password of at least 32
  characters; nobody off the roster gets in. Anyone with the learners' password can log in as any
  learner, so it suits a room for a day. A room that needs more uses real accounts: The Littlest
  JupyterHub's default (first-use passwords) or the system's PAM, or the organisation's OAuth.
* **Spawner**: ``SimpleLocalProcessSpawner``: every learner's server runs as the *same* system user
  as the hub, with its own home folder ``users/<name>/``. This separates files, not people: a learner
  can read or change another's files from a terminal. A real room runs one system account per learner
  (as The Littlest JupyterHub does, with systemdspawner) or one container per learner (KubeSpawner).
* **Limits**: ``mem_limit`` and ``cpu_limit`` are set, but ``SimpleLocalProcessSpawner`` only passes
  them to the server as ``MEM_LIMIT``/``CPU_LIMIT`` environment variables; it does not enforce them.
  systemdspawner (cgroups, The Littlest JupyterHub) and KubeSpawner (container limits) enforce them.
* **Files**: before a server starts, the learner's working copy (``helpers.course.working_copy``, the
  same one ``python course.py lab`` serves) is synced: new notebooks copied in, untouched ones updated,
  edited ones kept, deleted ones restored, so edits survive restarts; ``data/`` is a symlink to the
  course's one copy, and the models live in the shared Python environment. Read-only is *not* enforced
  here (one system user); in a real room the course folder belongs to the instructor and learners
  (other accounts) can only read it, or it is mounted read-only into their containers.
"""
import os
import sys
from pathlib import Path

from helpers.course.paths import BUILD_DIR, DATA_DIR, NOTEBOOKS_DIR
from helpers.course.working_copy import FIRST_NOTEBOOK, sync_working_copy

WORKSHOP_DIR = BUILD_DIR / "workshop"
PROXY_COMMAND = WORKSHOP_DIR / "node" / "node_modules" / ".bin" / "configurable-http-proxy"
SERVICE_NAME = "workshop-rehearsal"
SERVICE_SCOPES = ["admin:users", "admin:servers", "tokens", "access:servers", "read:hub"]
DEFAULT_MEM_LIMIT_BYTES = 3 * 2**30  # 3 GiB: above the heaviest notebook's measured peak (see the rehearsal)
DEFAULT_CPU_LIMIT = 1.0  # cores
SECRET_ENV = {  # config trait -> environment variable the config file reads it from
    "user_password": "WORKSHOP_USER_PASSWORD",
    "admin_password": "WORKSHOP_ADMIN_PASSWORD",
    "api_token": "WORKSHOP_API_TOKEN",
}


def _check_port(name: str, port: int) -> None:
    if not isinstance(port, int) or not 1 <= port <= 65535:
        raise ValueError(f"{name} must be a TCP port from 1 to 65535, got {port!r}")


def hub_settings(roster, *, workshop_dir=WORKSHOP_DIR, ip="127.0.0.1", port=8000, hub_port=8081,
                 proxy_api_port=8001, mem_limit_bytes=DEFAULT_MEM_LIMIT_BYTES, cpu_limit=DEFAULT_CPU_LIMIT,
                 proxy_command=PROXY_COMMAND, singleuser_command=None, allow_root=False) -> dict:
    """``{section: {trait: value}}`` for jupyterhub_config.py.

    ``ip`` is where learners connect (127.0.0.1 unless told otherwise; the hub's own API and the proxy's
    API always stay on 127.0.0.1); ``port`` the public port, ``mem_limit_bytes`` (bytes) and
    ``cpu_limit`` (cores) the per-learner limits, which only some spawners enforce (module docstring).
    ``allow_root``: let the learners' servers run as root (a container or CI machine that only has root).
    """
    for name, value in (("port", port), ("hub_port", hub_port), ("proxy_api_port", proxy_api_port)):
        _check_port(name, value)
    if len({port, hub_port, proxy_api_port}) != 3:
        raise ValueError(f"port, hub_port and proxy_api_port must differ, got {port}, {hub_port}, {proxy_api_port}")
    if not isinstance(mem_limit_bytes, int) or mem_limit_bytes < 2**28:
        raise ValueError(f"mem_limit_bytes must be an integer of at least 256 MiB (2**28 bytes), got {mem_limit_bytes!r}")
    if not cpu_limit > 0:
        raise ValueError(f"cpu_limit must be a positive number of cores, got {cpu_limit!r}")
    workshop_dir = Path(workshop_dir)
    hub_dir = workshop_dir / "hub"
    singleuser = singleuser_command or Path(sys.executable).parent / "jupyterhub-singleuser"
    return {
        "JupyterHub": {
            "ip": ip,
            "port": port,
            "hub_ip": "127.0.0.1",
            "hub_port": hub_port,
            "authenticator_class": "shared-password",
            "spawner_class": "simple",
            "db_url": f"sqlite:///{hub_dir / 'jupyterhub.sqlite'}",
            "cookie_secret_file": str(hub_dir / "jupyterhub_cookie_secret"),
            "pid_file": str(hub_dir / "jupyterhub.pid"),
            "cleanup_servers": True,
            "load_roles": [{"name": SERVICE_NAME, "scopes": SERVICE_SCOPES, "services": [SERVICE_NAME]}],
        },
        "ConfigurableHTTPProxy": {
            "command": [str(proxy_command)],
            "api_url": f"http://127.0.0.1:{proxy_api_port}",
        },
        "SharedPasswordAuthenticator": {
            "allowed_users": sorted(set(roster.learners) - set(roster.admins)),
            "admin_users": sorted(roster.admins),
        },
        "Spawner": {
            "cmd": [str(singleuser)],
            "args": ["--allow-root"] if allow_root else [],
            "default_url": f"/lab/tree/{FIRST_NOTEBOOK}",
            "mem_limit": mem_limit_bytes,
            "cpu_limit": float(cpu_limit),
            "start_timeout": 120,
            "http_timeout": 120,
        },
        "SimpleLocalProcessSpawner": {
            "home_dir_template": str(workshop_dir / "users" / "{username}"),
        },
    }


def render_config(settings: dict, *, course_root=None) -> str:
    """The text of jupyterhub_config.py: every value as a Python literal, secrets read from the environment."""
    course_root = Path(course_root) if course_root else NOTEBOOKS_DIR.parent
    users_dir = Path(settings["SimpleLocalProcessSpawner"]["home_dir_template"]).parent
    lines = [
        "# jupyterhub_config.py for the course's workshop, written by `python -m helpers.workshop`.",
        "# Values come from helpers.workshop.hub_config.hub_settings; secrets from the environment.",
        "import os",
        "",
        "from helpers.workshop.hub_config import learner_home_hook",
        "",
    ]
    for section, values in settings.items():
        lines += [f"c.{section}.{trait} = {value!r}" for trait, value in values.items()]
    env = SECRET_ENV
    lines += [
        f"c.SharedPasswordAuthenticator.user_password = os.environ[{env['user_password']!r}]",
        f"c.SharedPasswordAuthenticator.admin_password = os.environ[{env['admin_password']!r}]",
        f"c.JupyterHub.services = [{{'name': {SERVICE_NAME!r}, 'api_token': os.environ[{env['api_token']!r}]}}]",
        f"c.Spawner.pre_spawn_hook = learner_home_hook({str(course_root)!r}, {str(users_dir)!r})",
        "",
    ]
    return "\n".join(lines)


def prepare_learner_home(name: str, course_root, users_dir) -> Path:
    """Make ``users_dir/<name>/``: the learner's working copy of the course's notebooks, synced
    (``helpers.course.working_copy``: a learner's edits are never overwritten), and ``data`` as a
    symlink to the course's one copy."""
    course_root, home = Path(course_root), Path(users_dir) / name
    sync_working_copy(course_root, home)
    data_link = home / DATA_DIR.name
    if not data_link.is_symlink() and not data_link.exists():
        os.symlink(course_root / DATA_DIR.name, data_link, target_is_directory=True)
    (home / "build").mkdir(exist_ok=True)
    return home


def learner_home_hook(course_root, users_dir):
    """A ``Spawner.pre_spawn_hook``: prepare the learner's home, point the machine card into it."""
    def pre_spawn_hook(spawner):
        home = prepare_learner_home(spawner.user.name, course_root, users_dir)
        spawner.environment = {**spawner.environment, "COURSE_MACHINE_CARD": str(home / "build" / "machine_card.json")}

    return pre_spawn_hook
