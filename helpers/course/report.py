"""The header every benchmark's results file starts with: what ran, which code, when, on what machine, how busy;
and where the file goes: benchmarks/results/NAME.md.

    # Title

    Command: `...` · code version 1a2b3c4 · date (UTC): 2026-12-07 10:24 · machine: x86_64, 2 physical / 2 logical
    CPUs, 24 GiB RAM · (the run's own details)

    Other work used 3% of this machine's CPU time while this ran: a quiet machine.
"""
import platform
from datetime import datetime, timezone
from pathlib import Path

import psutil

from helpers.course.atomic import write_text_atomic
from helpers.course.paths import REPO_ROOT
from helpers.course.version import code_version

RESULTS_DIR = REPO_ROOT / "benchmarks" / "results"


def machine_line() -> str:
    """This machine in a few words: architecture, physical / logical CPUs, RAM (GiB = 2**30 bytes)."""
    return (f"{platform.machine()}, {psutil.cpu_count(logical=False)} physical / {psutil.cpu_count()} logical CPUs, "
            f"{psutil.virtual_memory().total / 2**30:.0f} GiB RAM")


def report_header(title: str, command: str, details=(), other_work=None, now: datetime = None) -> list:
    """The first lines of a results file (Markdown), ending with a blank line.

    ``command``: the command line that wrote the file; ``details``: more facts of the run, each a short
    phrase (threads, versions, the model file), joined to the command line with " · ". ``other_work``:
    the run's ``helpers.course.other_work.OtherWork``, read here, so call this once the measuring is done
    (None for a run that times nothing). ``now``: the date written (default: now, UTC).
    """
    when = now or datetime.now(timezone.utc)
    facts = [f"Command: `{command}`", f"code version {code_version()}", f"date (UTC): {when:%Y-%m-%d %H:%M}",
             f"machine: {machine_line()}", *details]
    lines = [f"# {title}", "", " · ".join(facts), ""]
    return lines + ([other_work.sentence(), ""] if other_work is not None else [])


def write_report(name: str, text: str) -> None:
    """Write ``text`` (Markdown, header first) whole to benchmarks/results/``name``.md and print it."""
    if not name or Path(name).name != name or name.endswith(".md"):
        raise ValueError(f"a results file's name is a plain file name without .md, e.g. 'quant_error'; got {name!r}")
    write_text_atomic(RESULTS_DIR / f"{name}.md", text)
    print(text)
