"""No orphans: a process the course starts ends with the process that started it, also when that one is SIGKILLed."""
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from helpers.course.orphan_guard import guarded, main, parent_alive
from helpers.course.paths import REPO_ROOT


def gone(pid: int, within_s: float = 10.0) -> bool:
    """Whether process ``pid`` has ended (or is a zombie nobody reaped) within ``within_s`` seconds."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().split(")")[-1].split()[0] == "Z":
                    return True
        except FileNotFoundError:
            return True
        time.sleep(0.1)
    return False


def start_parent(code: str) -> tuple:
    """A Python process that runs ``code`` (which prints the pid of what it started), then waits: (process, child pid)."""
    parent = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code) + "\nimport time\ntime.sleep(600)"],
                              cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True)
    return parent, int(parent.stdout.readline())


def test_a_guarded_child_dies_when_its_parent_is_killed():
    parent, child = start_parent("""
        import subprocess
        from helpers.course.orphan_guard import guarded
        print(subprocess.Popen(guarded(["sleep", "300"]), start_new_session=True).pid, flush=True)
    """)
    try:
        time.sleep(0.5)
        assert parent_alive(child) and not gone(child, within_s=0.5)
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        assert gone(child)
    finally:
        parent.kill()


def test_an_unguarded_child_would_outlive_it():
    """The control: without the guard the same child is left running (reparented), which is what the guard prevents."""
    parent, child = start_parent("""
        import subprocess
        print(subprocess.Popen(["sleep", "300"], start_new_session=True).pid, flush=True)
    """)
    try:
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        assert not gone(child, within_s=1.5)
    finally:
        os.kill(child, signal.SIGKILL)


@pytest.mark.slow
def test_a_killed_kernel_leaves_no_model_server_behind():
    parent, child = start_parent("""
        from helpers.llm.chat_model import chat_model_path
        from helpers.serving.server import ServerSettings, start_server
        server = start_server(ServerSettings(chat_model_path(), n_ctx=512, n_threads=1))
        print(server.pid, flush=True)
    """)
    try:
        assert parent_alive(child)
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        assert gone(child, within_s=20)
    finally:
        parent.kill()


def test_bad_arguments_are_refused_with_the_usage():
    assert guarded(["x", 1], parent_pid=7)[-4:] == ["7", "--", "x", "1"]
    with pytest.raises(SystemExit, match="PARENT_PID -- command"):
        main(["abc", "--", "sleep"])
