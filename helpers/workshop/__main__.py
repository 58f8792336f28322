"""The workshop from the command line.

    python -m helpers.workshop start --roster workshop/roster.example.txt    # host the course (Ctrl-C stops)
    python -m helpers.workshop start --roster room.txt --ip 0.0.0.0 --port 8000
    python -m helpers.workshop rehearse --learners 4 --notebook 00           # measured, on loopback
"""
import argparse
import os
import platform
import shlex
import shutil
import signal
import sys
import time
from pathlib import Path

import psutil

from helpers.course.atomic import write_text_atomic
from helpers.course.paths import NOTEBOOKS_DIR, REPO_ROOT, relative_to_repo
from helpers.hardware.machine import cpu_model
from helpers.workshop import rehearsal
from helpers.workshop.hub import HubError, running_hub
from helpers.workshop.hub_config import DEFAULT_CPU_LIMIT, DEFAULT_MEM_LIMIT_BYTES, WORKSHOP_DIR
from helpers.workshop.roster import RosterError, parse_roster, read_roster

RESULTS = REPO_ROOT / "benchmarks" / "results" / "workshop_rehearsal.md"
PAPERMILL_SUMMARY = REPO_ROOT / "build" / "papermill" / "summary.csv"


def notebook_in_home(number: str) -> str:
    """'00' -> 'notebooks/00_setup_check.ipynb' (the path inside a learner's home)."""
    matches = sorted(NOTEBOOKS_DIR.glob(f"{str(number).zfill(2)}_*.ipynb"))
    if not matches:
        raise ValueError(f"no notebook numbered {number!r} in notebooks/")
    return f"{NOTEBOOKS_DIR.name}/{matches[0].name}"


def start(args) -> int:
    roster = read_roster(args.roster)
    with running_hub(roster, WORKSHOP_DIR, ip=args.ip, port=args.port,
                     mem_limit_bytes=int(args.mem_limit_gib * 2**30), cpu_limit=args.cpu_limit) as hub:
        learners = len(roster.learners) - len(roster.admins)
        public = f"http://{args.ip}:{hub.port}" if args.ip != "0.0.0.0" else f"http://<this machine>:{hub.port}"
        print(f"JupyterHub for {learners} learners and {len(roster.admins)} admin(s) at {public}")
        print(f"learners' password: {hub.secrets['user_password']}")
        print(f"admins' password:   {hub.secrets['admin_password']}  (admins: {', '.join(roster.admins)})")
        print(f"secrets kept in {relative_to_repo(hub.workshop_dir / 'hub' / 'secrets.json')}; learners' copies in "
              f"{relative_to_repo(hub.workshop_dir / 'users')}/; hub log in {relative_to_repo(hub.log_path)}")
        print("Ctrl-C stops the hub and every learner's server (their files stay).", flush=True)
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        try:
            while hub.process.poll() is None:
                time.sleep(1)
        except KeyboardInterrupt:
            pass
        if hub.process.returncode not in (None, 0):
            print(f"the hub exited with code {hub.process.returncode}; see {relative_to_repo(hub.log_path)}", file=sys.stderr)
            return 1
    return 0


def machine_line() -> str:
    return f"{cpu_model()} ({platform.system()} {platform.machine()})"


def rehearse(args, argv) -> int:
    names = rehearsal.learner_names(args.learners)
    notebooks = [notebook_in_home(n) for n in args.notebook]
    workshop_dir = WORKSHOP_DIR / "rehearsal"
    shutil.rmtree(workshop_dir / "users", ignore_errors=True)  # every learner starts from a fresh copy
    roster = parse_roster(rehearsal.rehearsal_roster_text(args.learners))
    print(f"rehearsal: {len(names)} learners, notebooks {', '.join(notebooks)}, at most {args.timeout:.0f} s", flush=True)
    load_before = os.getloadavg()[0]
    with running_hub(roster, workshop_dir) as hub:
        runs = rehearsal.rehearse(hub, names, notebooks, {"QUICK": True}, timeout_s=args.timeout)
        hub_bytes = rehearsal.hub_overhead_bytes(hub.processes())
    ram, cores = psutil.virtual_memory().total, os.cpu_count()
    reserve = hub_bytes + rehearsal.OS_RESERVE_BYTES
    rows = rehearsal.sizing_rows(runs, rehearsal.read_papermill_summary(args.papermill_summary),
                                 ram_bytes=ram, cores=cores, reserve_bytes=reserve)
    command = "python -m helpers.workshop " + " ".join(shlex.quote(a) for a in argv)
    text = rehearsal.results_markdown(runs, rows, command=command, machine=machine_line(), ram_bytes=ram,
                                      cores=cores, reserve_bytes=reserve, load=(load_before, os.getloadavg()[0]))
    write_text_atomic(args.out, text)
    print(text)
    print(f"written to {relative_to_repo(args.out)}")
    return 0 if all(run.status == "ok" for run in runs) else 1


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="python -m helpers.workshop", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("start", help="host the course for a roster until Ctrl-C")
    run.add_argument("--roster", type=Path, required=True, help="one learner per line, the instructor marked 'admin'")
    run.add_argument("--ip", default="127.0.0.1", help="address learners connect to (default: this machine only)")
    run.add_argument("--port", type=int, default=8000)
    run.add_argument("--mem-limit-gib", type=float, default=DEFAULT_MEM_LIMIT_BYTES / 2**30,
                     help="per-learner memory limit in GiB (enforced by systemdspawner/KubeSpawner, not here)")
    run.add_argument("--cpu-limit", type=float, default=DEFAULT_CPU_LIMIT, help="per-learner cores (same caveat)")
    reh = commands.add_parser("rehearse", help="K simulated learners on loopback, measured")
    reh.add_argument("--learners", type=int, default=4, help=f"how many at once (1-{rehearsal.MAX_LEARNERS})")
    reh.add_argument("--notebook", nargs="+", default=["00"], help="notebook numbers each learner runs, in order")
    reh.add_argument("--timeout", type=float, default=900.0, help="seconds for the whole rehearsal (at most 3600)")
    reh.add_argument("--papermill-summary", type=Path, default=PAPERMILL_SUMMARY)
    reh.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    try:
        return start(args) if args.command == "start" else rehearse(args, argv)
    except (RosterError, HubError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
