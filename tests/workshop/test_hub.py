"""A real hub on loopback (one start per module, a second only for the restart test): learners get
separate copies, a killed kernel takes no other learner down, a restart keeps learners' work, and
everything stops with no process left and the port free."""
import os
import signal
import time

import nbformat
import psutil
import pytest
import requests

from helpers.workshop.hub import HubError, port_is_free, start_hub, stop_hub
from helpers.workshop.rehearsal import (
    execute_cells,
    kernel_process,
    learner_token,
    run_notebook,
    server_process,
    start_server,
)
from helpers.workshop.roster import parse_roster

pytestmark = pytest.mark.slow
ROSTER = parse_roster("teacher admin\nann\nbob\n")
LEARNERS = ("ann", "bob")


@pytest.fixture(scope="module")
def room(tmp_path_factory):
    """{'hub': the running hub, 'tokens': {learner: token}}; both learners' servers started."""
    workshop_dir = tmp_path_factory.mktemp("workshop")
    state = {"hub": start_hub(ROSTER, workshop_dir)}
    try:
        deadline = time.monotonic() + 240
        state["urls"] = {name: start_server(state["hub"], name, deadline) for name in LEARNERS}
        state["tokens"] = {name: learner_token(state["hub"], name) for name in LEARNERS}
        yield state
    finally:
        stop_hub(state["hub"])


def _contents(room, name, path, method="GET", **kwargs):
    hub = room["hub"]
    return requests.request(method, f"{hub.url}/user/{name}/api/contents/{path}", timeout=30,
                            headers={"Authorization": f"token {room['tokens'][name]}"}, **kwargs)


def _write(room, name, path, text):
    response = _contents(room, name, path, "PUT", json={"type": "file", "format": "text", "content": text})
    assert response.status_code in (200, 201), response.text


def _read(room, name, path):
    response = _contents(room, name, path)
    assert response.status_code == 200, response.text
    return response.json()["content"]


def test_the_hub_holds_the_roster_and_logs_in_with_the_shared_passwords(room):
    hub = room["hub"]
    users = {u["name"]: u["admin"] for u in hub.api("GET", "/users").json()}
    assert users == {"teacher": True, "ann": False, "bob": False}

    def login(name, password):
        session = requests.Session()
        session.get(f"{hub.url}/hub/login", timeout=30)
        form = {"username": name, "password": password, "_xsrf": session.cookies.get("_xsrf")}
        return session.post(f"{hub.url}/hub/login", data=form, allow_redirects=False, timeout=30).status_code

    assert login("ann", hub.secrets["user_password"]) == 302
    assert login("teacher", hub.secrets["admin_password"]) == 302
    assert login("ann", "wrong-password") == 403
    assert login("teacher", hub.secrets["user_password"]) == 403  # admins need the admin password
    assert login("mallory", hub.secrets["user_password"]) == 403  # not on the roster


def test_a_learner_cannot_use_another_learners_server(room):
    hub = room["hub"]
    response = requests.get(f"{hub.url}/user/bob/api/contents/", headers={"Authorization": f"token {room['tokens']['ann']}"},
                            timeout=30, allow_redirects=False)
    assert response.status_code in (302, 403)


def test_two_learners_get_separate_copies(room):
    _write(room, "ann", "notebooks/notes.txt", "ann's notes")
    _write(room, "bob", "notebooks/notes.txt", "bob's notes")
    assert _read(room, "ann", "notebooks/notes.txt") == "ann's notes"
    assert _read(room, "bob", "notebooks/notes.txt") == "bob's notes"
    users = room["hub"].workshop_dir / "users"
    ann, bob = users / "ann" / "notebooks" / "00_setup_check.ipynb", users / "bob" / "notebooks" / "00_setup_check.ipynb"
    assert ann.is_file() and bob.is_file() and not os.path.samefile(ann, bob)
    assert os.path.samefile(users / "ann" / "data", users / "bob" / "data")  # one shared copy of data/
    hub = room["hub"]
    landing = requests.get(f"{hub.url}/user/ann/", headers={"Authorization": f"token {room['tokens']['ann']}"},
                           allow_redirects=False, timeout=30)
    assert landing.headers["Location"].rstrip("?").endswith("/user/ann/lab/tree/notebooks/00_setup_check.ipynb")


def _tiny_notebook(*sources):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("QUICK = None", metadata={"tags": ["parameters"]})]
    nb.cells += [nbformat.v4.new_code_cell(s) for s in sources]
    return nbformat.writes(nb)


def test_a_tiny_notebook_runs_through_each_learners_kernel(room):
    hub, deadline = room["hub"], time.monotonic() + 120
    _write(room, "ann", "notebooks/tiny.ipynb", _tiny_notebook("assert QUICK is True", "x = bytearray(50 * 2**20)"))
    _write(room, "bob", "notebooks/broken.ipynb", _tiny_notebook("raise RuntimeError('on purpose')"))
    ok = run_notebook(hub, "ann", room["urls"]["ann"], room["tokens"]["ann"], "notebooks/tiny.ipynb", {"QUICK": True}, deadline)
    assert ok.status == "ok", ok.error
    assert ok.kernel_peak_rss_bytes > 50 * 2**20 and ok.peak_rss_bytes > ok.kernel_peak_rss_bytes
    bad = run_notebook(hub, "bob", room["urls"]["bob"], room["tokens"]["bob"], "notebooks/broken.ipynb", {}, deadline)
    assert bad.status == "failed" and "code cell 1: RuntimeError: on purpose" in bad.error


def _start_kernel(room, name):
    hub = room["hub"]
    response = requests.post(f"{hub.url}/user/{name}/api/kernels", json={"name": "python3"}, timeout=60,
                             headers={"Authorization": f"token {room['tokens'][name]}"})
    assert response.status_code == 201, response.text
    kernel_id = response.json()["id"]
    server = server_process(hub.processes(), name)
    for _ in range(100):
        kernel = kernel_process(server, kernel_id)
        if kernel:
            return kernel_id, kernel
        time.sleep(0.2)
    raise AssertionError(f"no kernel process for {name}")


def test_a_killed_kernel_takes_no_other_learner_down(room):
    hub = room["hub"]
    ann_id, ann_kernel = _start_kernel(room, "ann")
    bob_id, bob_kernel = _start_kernel(room, "bob")
    ann_server = server_process(hub.processes(), "ann")
    os.kill(ann_kernel.pid, signal.SIGKILL)  # what the out-of-memory killer does
    ann_kernel.wait(timeout=30)
    ws = f"ws{hub.url[4:]}/user/bob/api/kernels/{bob_id}/channels"
    execute_cells(ws, room["tokens"]["bob"], [("assert 6 * 7 == 42", False)], time.monotonic() + 60)
    assert bob_kernel.is_running() and ann_server.is_running()
    for name in LEARNERS:
        status = requests.get(f"{hub.url}/user/{name}/api/status", timeout=30,
                              headers={"Authorization": f"token {room['tokens'][name]}"})
        assert status.status_code == 200
    assert hub.api("GET", "/").status_code == 200


def test_a_hub_restart_keeps_learners_work(room):
    _write(room, "ann", "notebooks/00_setup_check.ipynb", "ann changed notebook 00")
    _write(room, "ann", "notebooks/work.txt", "half-done exercise")
    old = room["hub"]
    stop_hub(old)
    assert old.processes() == [] and port_is_free(old.port)
    room["hub"] = start_hub(ROSTER, old.workshop_dir)
    room["urls"]["ann"] = start_server(room["hub"], "ann", time.monotonic() + 240)
    room["tokens"]["ann"] = learner_token(room["hub"], "ann")
    assert _read(room, "ann", "notebooks/work.txt") == "half-done exercise"
    home = room["hub"].workshop_dir / "users" / "ann"
    assert (home / "notebooks" / "00_setup_check.ipynb").read_text() == "ann changed notebook 00"  # not re-copied


def test_everything_stops(room):
    hub = room["hub"]
    started = hub.processes()
    assert len(started) >= 3  # hub, proxy, ann's server (at least)
    stop_hub(hub)
    assert not [p for p in started if p.is_running()]
    assert port_is_free(hub.port)
    leftovers = [p for p in psutil.process_iter(["environ"]) if (p.info["environ"] or {}).get("JUPYTERHUB_USER") in LEARNERS
                 and str(hub.workshop_dir) in (p.info["environ"] or {}).get("HOME", "")]
    assert leftovers == []


def test_a_missing_proxy_is_named(tmp_path):
    with pytest.raises(HubError, match="configurable-http-proxy is not installed.*make workshop-proxy"):
        start_hub(ROSTER, tmp_path, proxy_command=tmp_path / "nothing")
