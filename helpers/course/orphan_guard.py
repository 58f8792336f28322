"""A child process that dies with the process that started it, even when that process is killed (SIGKILL).

A kernel stopped cleanly stops its servers (``atexit``); a kernel killed by the out-of-memory killer
or ``kill -9`` runs no Python code at all, and a server it started would live on, holding its port
and memory. ``guarded(command)`` wraps a command line so that it cannot outlive the caller:

    python -m helpers.course.orphan_guard PARENT_PID -- command args...

On Linux the kernel does it: the guard asks for SIGTERM when its parent dies (``prctl`` with
``PR_SET_PDEATHSIG``), checks the parent is still the one it was given, then becomes the command
(``exec``), which keeps the request. Elsewhere (macOS, Windows) the guard stays as a watchdog: it starts
the command, looks every ``WATCH_INTERVAL_S`` seconds whether the parent still lives, and stops the
command when it does not.
"""
import ctypes
import os
import signal
import subprocess
import sys
import time

PR_SET_PDEATHSIG = 1  # linux/prctl.h
WATCH_INTERVAL_S = 0.5


def guarded(command: list, parent_pid: int = None) -> list:
    """``command`` run through the guard, so that it ends when ``parent_pid`` (default: this process) ends."""
    parent = os.getpid() if parent_pid is None else parent_pid
    return [sys.executable, "-m", "helpers.course.orphan_guard", str(parent), "--", *map(str, command)]


def parent_alive(pid: int) -> bool:
    """Whether process ``pid`` still exists (it may belong to another user: that counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _die_with_parent_linux(parent_pid: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent_pid:  # the parent died before the request took effect
        sys.exit(0)


def _watch(parent_pid: int, command: list) -> int:
    child = subprocess.Popen(command)
    try:
        while child.poll() is None:
            if not parent_alive(parent_pid):
                child.terminate()
                try:
                    child.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    child.kill()
                break
            time.sleep(WATCH_INTERVAL_S)
    finally:
        if child.poll() is None:
            child.kill()
    return child.wait()


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) < 3 or argv[1] != "--" or not argv[0].isdigit():
        raise SystemExit(f"usage: python -m helpers.course.orphan_guard PARENT_PID -- command args...; got {argv!r}")
    parent_pid, command = int(argv[0]), argv[2:]
    if sys.platform.startswith("linux"):
        _die_with_parent_linux(parent_pid)
        os.execvp(command[0], command)
    return _watch(parent_pid, command)


if __name__ == "__main__":
    sys.exit(main())
