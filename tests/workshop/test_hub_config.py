"""JupyterHub's settings as values: loopback by default, the roster's accounts, limits, per-learner copies."""
import os
from types import SimpleNamespace

import pytest
from traitlets.config import Config

from helpers.workshop.hub_config import (
    DEFAULT_MEM_LIMIT_BYTES,
    SECRET_ENV,
    hub_settings,
    learner_home_hook,
    prepare_learner_home,
    render_config,
)
from helpers.workshop.roster import parse_roster

ROSTER = parse_roster("teacher admin\nada\ngrace\n")


def test_defaults_listen_on_loopback_with_the_roster_and_limits(tmp_path):
    s = hub_settings(ROSTER, workshop_dir=tmp_path)
    assert s["JupyterHub"]["ip"] == "127.0.0.1" and s["JupyterHub"]["hub_ip"] == "127.0.0.1"
    assert s["JupyterHub"]["authenticator_class"] == "shared-password"
    assert s["JupyterHub"]["spawner_class"] == "simple"
    assert s["SharedPasswordAuthenticator"] == {"allowed_users": ["ada", "grace"], "admin_users": ["teacher"]}
    assert s["Spawner"]["default_url"] == "/lab/tree/notebooks/00_setup_check.ipynb"
    assert s["Spawner"]["mem_limit"] == DEFAULT_MEM_LIMIT_BYTES and s["Spawner"]["cpu_limit"] == 1.0
    assert s["SimpleLocalProcessSpawner"]["home_dir_template"] == str(tmp_path / "users" / "{username}")
    assert s["Spawner"]["args"] == []
    assert str(tmp_path / "hub") in s["JupyterHub"]["db_url"]


def test_a_room_address_and_root_are_opt_in(tmp_path):
    s = hub_settings(ROSTER, workshop_dir=tmp_path, ip="0.0.0.0", port=443, allow_root=True)
    assert s["JupyterHub"]["ip"] == "0.0.0.0" and s["JupyterHub"]["port"] == 443
    assert s["JupyterHub"]["hub_ip"] == "127.0.0.1"  # the hub's own API never leaves the machine
    assert s["Spawner"]["args"] == ["--allow-root"]


@pytest.mark.parametrize("options, message", [
    ({"port": 0}, "port must be a TCP port"),
    ({"port": 8000, "hub_port": 8000}, "must differ"),
    ({"mem_limit_bytes": 1000}, "at least 256 MiB"),
    ({"cpu_limit": 0}, "positive number of cores"),
])
def test_bad_settings_are_refused(tmp_path, options, message):
    with pytest.raises(ValueError, match=message):
        hub_settings(ROSTER, workshop_dir=tmp_path, **options)


def test_the_rendered_file_loads_and_reads_secrets_from_the_environment(tmp_path, monkeypatch):
    secrets = {name: f"secret-{name}-" + "x" * 32 for name in SECRET_ENV}
    for name, variable in SECRET_ENV.items():
        monkeypatch.setenv(variable, secrets[name])
    text = render_config(hub_settings(ROSTER, workshop_dir=tmp_path, port=8123))
    assert not any(value in text for value in secrets.values())
    c = Config()
    exec(compile(text, "jupyterhub_config.py", "exec"), {"c": c})
    assert c.JupyterHub.port == 8123
    assert c.SharedPasswordAuthenticator.admin_password == secrets["admin_password"]
    assert c.JupyterHub.services[0]["api_token"] == secrets["api_token"]
    assert callable(c.Spawner.pre_spawn_hook)


def _course(tmp_path):
    course = tmp_path / "course"
    (course / "notebooks").mkdir(parents=True)
    (course / "notebooks" / "00_setup_check.ipynb").write_text("original")
    (course / "notebooks" / ".ipynb_checkpoints").mkdir()
    (course / "notebooks" / ".ipynb_checkpoints" / "x.ipynb").write_text("checkpoint")
    (course / "data").mkdir()
    (course / "data" / "models.csv").write_text("shared")
    return course


def test_each_learner_gets_a_copy_that_is_never_overwritten(tmp_path):
    course, users = _course(tmp_path), tmp_path / "users"
    ada = prepare_learner_home("ada", course, users)
    grace = prepare_learner_home("grace", course, users)
    (ada / "notebooks" / "00_setup_check.ipynb").write_text("ada's edit")
    (course / "notebooks" / "01_new.ipynb").write_text("added later")
    prepare_learner_home("ada", course, users)  # a restart
    assert (ada / "notebooks" / "00_setup_check.ipynb").read_text() == "ada's edit"
    assert (ada / "notebooks" / "01_new.ipynb").read_text() == "added later"
    assert (grace / "notebooks" / "00_setup_check.ipynb").read_text() == "original"
    assert not (ada / "notebooks" / ".ipynb_checkpoints").exists()
    assert os.path.realpath(ada / "data") == os.path.realpath(course / "data")
    assert (grace / "data" / "models.csv").read_text() == "shared"


def test_the_hook_prepares_the_home_and_a_private_machine_card(tmp_path):
    course, users = _course(tmp_path), tmp_path / "users"
    spawner = SimpleNamespace(user=SimpleNamespace(name="ada"), environment={"KEEP": "1"})
    learner_home_hook(course, users)(spawner)
    assert (users / "ada" / "notebooks" / "00_setup_check.ipynb").exists()
    assert spawner.environment == {"KEEP": "1", "COURSE_MACHINE_CARD": str(users / "ada" / "build" / "machine_card.json")}


def test_the_kubernetes_values_agree_with_the_one_machine_settings():
    """workshop/z2jh-values.yaml (not run here) opens the same first notebook with the same memory limit."""
    import yaml

    from helpers.course.paths import REPO_ROOT
    from helpers.workshop.hub_config import FIRST_NOTEBOOK

    values = yaml.safe_load((REPO_ROOT / "workshop" / "z2jh-values.yaml").read_text())
    single = values["singleuser"]
    assert single["defaultUrl"] == f"/lab/tree/{FIRST_NOTEBOOK}"
    assert int(single["memory"]["limit"].removesuffix("G")) * 2**30 == DEFAULT_MEM_LIMIT_BYTES  # JupyterHub: G = GiB
    assert values["hub"]["config"]["JupyterHub"]["authenticator_class"] == "shared-password"
    assert values["hub"]["config"]["SharedPasswordAuthenticator"]["admin_users"] == ["instructor"]
    assert "NOT RUN HERE" in (REPO_ROOT / "workshop" / "z2jh-values.yaml").read_text()
    docs = list(yaml.safe_load_all((REPO_ROOT / "workshop" / "inference-server.k8s.yaml").read_text()))
    service = next(d for d in docs if d["kind"] == "Service")
    assert single["extraEnv"]["OPENAI_BASE_URL"].startswith(f"http://{service['metadata']['name']}.")
