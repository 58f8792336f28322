"""Build notebooks from their lesson sources: jupytext text in ``lessons/`` -> executed ``notebooks/``.

    python -m helpers.course.build                 # rebuild and re-execute every notebook
    python -m helpers.course.build --only 00 03    # just these (by number prefix)
    python -m helpers.course.build --check         # report notebooks that disagree with their lesson

Notebooks are executed in quick mode, so their stored outputs are exactly what nbval expects.
Stored outputs hold timings, so the build measures how much of the machine's CPU time other
processes used while each notebook ran (``helpers.course.other_work``), writes that share into the
notebook's metadata, and refuses to store a notebook built on a busy machine (``--allow-busy`` stores
it anyway, with the share on record).
"""
import argparse
import os
import sys
import time
from pathlib import Path

import jupytext
import nbformat
from nbclient import NotebookClient

from helpers.course.atomic import write_text_atomic
from helpers.course.descendants import DescendantsPeak
from helpers.course.other_work import NOISY_SHARE, OtherWork
from helpers.course.paths import LESSONS_DIR, NOTEBOOKS_DIR, relative_to_repo
from helpers.course.report import report_header
from helpers.course.runner import NotebookRun, summary_markdown

CELL_TIMEOUT_SECONDS = 900
VOLATILE_CELL_METADATA = ("execution", "papermill", "collapsed", "scrolled")
BUILD_METADATA = "course_build"  # notebook metadata: {"other_work_share": 0.02, "seconds": 41.2, "peak_rss_mib": 820}


class BusyMachineError(RuntimeError):
    """Other processes used too much CPU time while a notebook ran: its timings would not be its own."""


def lesson_paths(only=()) -> list:
    """Lesson sources (``lessons/NN_topic.py``), optionally only those whose number is in ``only``."""
    paths = sorted(LESSONS_DIR.glob("[0-9][0-9]_*.py"))
    if only:
        wanted = {str(n).zfill(2) for n in only}
        unknown = wanted - {p.name[:2] for p in paths}
        if unknown:
            raise ValueError(
                f"no lesson numbered {sorted(unknown)}; lessons are {[p.name[:2] for p in paths]}"
            )
        paths = [p for p in paths if p.name[:2] in wanted]
    return paths


def notebook_path_for(lesson: Path) -> Path:
    return NOTEBOOKS_DIR / (Path(lesson).stem + ".ipynb")


def read_lesson(lesson: Path) -> nbformat.NotebookNode:
    """The lesson as an (unexecuted) notebook."""
    return jupytext.read(lesson, fmt="py:percent")


def cell_signature(cell) -> tuple:
    """What must agree between lesson and notebook: cell type, source and tags."""
    return cell.cell_type, cell.source.strip(), tuple(cell.metadata.get("tags", ()))


def differences(lesson: Path, notebook: Path) -> list:
    """Human-readable differences between a lesson and its notebook ([] when in sync)."""
    if not notebook.exists():
        return [f"{relative_to_repo(notebook)} is missing"]
    want = [cell_signature(c) for c in read_lesson(lesson).cells]
    have = [cell_signature(c) for c in nbformat.read(notebook, as_version=4).cells]
    problems = []
    if len(want) != len(have):
        problems.append(f"{len(want)} cells in the lesson, {len(have)} in the notebook")
    for index, (w, h) in enumerate(zip(want, have)):
        if w != h:
            problems.append(f"cell {index} differs ({w[0]}: {w[1][:60]!r}...)")
    return problems


def execute(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Run every cell in quick mode, with the notebooks folder as working directory."""
    os.environ["COURSE_QUICK"] = "1"
    client = NotebookClient(
        nb,
        timeout=CELL_TIMEOUT_SECONDS,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOKS_DIR)}},
        record_timing=False,
    )
    client.execute()
    return nb


def update_markdown(lesson: Path) -> Path:
    """Copy a lesson's markdown cells into its stored notebook, keeping every code cell and output as stored.

    Only for a lesson whose code cells (source and tags, in order) are those of the notebook: a change
    to the text alone needs no new run. Refuses, naming the first differing code cell, otherwise.
    """
    target = notebook_path_for(lesson)
    stored = nbformat.read(target, as_version=4)
    fresh = read_lesson(lesson)
    code = [cell_signature(c) for c in fresh.cells if c.cell_type == "code"]
    kept = [cell_signature(c) for c in stored.cells if c.cell_type == "code"]
    if code != kept or len(fresh.cells) != len(stored.cells):
        first = next((i for i, (a, b) in enumerate(zip(code, kept)) if a != b), min(len(code), len(kept)))
        raise ValueError(f"{lesson.name}: code cell {first} (or the number of cells) differs from the stored notebook; "
                         "rebuild it instead")
    for old, new in zip(stored.cells, fresh.cells):
        if new.cell_type == "markdown":
            old.source = new.source
    write_text_atomic(target, nbformat.writes(clean(stored)) + "\n")
    return target


def clean(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Drop metadata that changes on every run, so rebuilding gives small diffs."""
    for cell in nb.cells:
        for key in VOLATILE_CELL_METADATA:
            cell.metadata.pop(key, None)
    nb.metadata.pop("papermill", None)
    return nb


def build(lesson: Path, run: bool = True, allow_busy: bool = False) -> Path:
    """Convert (and by default execute) one lesson; write its notebook atomically.

    Raises :class:`BusyMachineError`, writing nothing, when other processes used more than
    ``NOISY_SHARE`` of the CPU time while it ran, unless ``allow_busy``.
    """
    nb = read_lesson(lesson)
    if run:
        other_work = OtherWork()
        started = time.perf_counter()
        with DescendantsPeak() as peak:  # the kernel and every process it starts
            nb = execute(nb)
        share = other_work.share()
        nb.metadata[BUILD_METADATA] = {"other_work_share": round(share, 3),
                                       "seconds": round(time.perf_counter() - started, 1),
                                       "peak_rss_mib": round(peak.peak_bytes / 2**20)}
        if share > NOISY_SHARE and not allow_busy:
            raise BusyMachineError(
                f"other processes used {share:.0%} of this machine's CPU time while {lesson.name} ran (at most "
                f"{NOISY_SHARE:.0%} allowed): its timings would be noisy, so it was not stored. Stop the other "
                "work and build again, or pass --allow-busy to store it with the share on record.")
    target = notebook_path_for(lesson)
    write_text_atomic(target, nbformat.writes(clean(nb)) + "\n")
    return target


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="*", default=(), help="lesson numbers, e.g. 00 03")
    parser.add_argument("--no-execute", action="store_true", help="convert without running")
    parser.add_argument("--check", action="store_true", help="only report lessons and notebooks that disagree")
    parser.add_argument("--allow-busy", action="store_true",
                        help=f"store notebooks even when other work used more than {NOISY_SHARE:.0%} of the CPU")
    parser.add_argument("--results", type=Path, help="also write each notebook's build time and peak memory as a "
                        "results file (e.g. benchmarks/results/notebook_times.md)")
    parser.add_argument("--markdown-only", action="store_true", help="copy changed markdown into the stored "
                        "notebooks without running them (only where the code cells are unchanged)")
    parser.add_argument("--report-only", action="store_true", help="build nothing: write --results from the build "
                        "records the stored notebooks already hold")
    args = parser.parse_args(argv)
    lessons = lesson_paths(args.only)
    if args.markdown_only:
        for lesson in lessons:
            if differences(lesson, notebook_path_for(lesson)):
                print(f"updating the text of {relative_to_repo(update_markdown(lesson))}")
        return 0
    if args.report_only:
        if not args.results:
            parser.error("--report-only needs --results FILE")
        runs = [build_record(notebook_path_for(lesson)) for lesson in lessons]
        write_results(args.results, [run for run in runs if run], argv, None, "from each stored notebook's build record")
        return 0
    if args.check:
        stale = {lesson.name: differences(lesson, notebook_path_for(lesson)) for lesson in lessons}
        stale = {name: probs for name, probs in stale.items() if probs}
        for name, probs in stale.items():
            print(f"{name}: " + "; ".join(probs))
        return 1 if stale else 0
    other_work, runs = OtherWork(), []
    for lesson in lessons:
        print(f"building {relative_to_repo(notebook_path_for(lesson))} ...", flush=True)
        try:
            target = build(lesson, run=not args.no_execute, allow_busy=args.allow_busy)
        except BusyMachineError as error:
            print(error, file=sys.stderr)
            return 1
        run = build_record(target)
        if run:
            print(f"  {run.seconds} s, peak {run.peak_rss_bytes / 2**20:.0f} MiB", flush=True)
            runs.append(run)
    if args.results and runs:
        write_results(args.results, runs, argv, other_work, "measured while building")
    return 0


def build_record(notebook: Path):
    """The notebook's build record (``BUILD_METADATA``) as a runner ``NotebookRun``, or None without one."""
    record = nbformat.read(notebook, as_version=4).metadata.get(BUILD_METADATA)
    if not record or "seconds" not in record:
        return None
    return NotebookRun(notebook.name, record["seconds"], record["peak_rss_mib"] * 2**20, "ok",
                       f"other work {record['other_work_share']:.0%} of the CPU")


def write_results(path: Path, runs, argv, other_work, how: str) -> None:
    """The build times and peaks as a results file, headed by the command and the code version."""
    command = ".venv/bin/python -m helpers.course.build " + " ".join(argv if argv is not None else sys.argv[1:])
    header = report_header("Notebook build times and peak memory", command.strip(),
                           (f"quick mode, one notebook at a time in a fresh kernel, {how}", "peak RSS: the kernel and "
                            "every process it started, sampled every 0.2 s, MiB = 2**20 bytes"), other_work)
    write_text_atomic(path, "\n".join(header) + "\n" + summary_markdown(runs))


if __name__ == "__main__":
    sys.exit(main())
