"""Run every notebook headless with papermill and report time, peak memory and status.

    python -m helpers.course.runner                          # all notebooks, quick (CI) parameters
    python -m helpers.course.runner --only 00 05 -p QUICK False -p SEED 3

Executed copies and a summary (``summary.md``, ``summary.csv``) go to ``build/papermill/``.
Each notebook runs in its own worker process; its peak memory is the largest total resident memory
of everything the worker started (the kernel and any server the notebook starts), sampled while it runs.
A failing cell fails the run, naming the notebook and the cell.
"""
import argparse
import ast
import csv
import json
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from helpers.course.atomic import atomic_path, write_text_atomic
from helpers.course.descendants import DescendantsPeak
from helpers.course.other_work import OtherWork
from helpers.course.paths import BUILD_DIR, NOTEBOOKS_DIR, relative_to_repo
from helpers.course.report import report_header

DEFAULT_PARAMETERS = {"QUICK": True}
DEFAULT_OUT_DIR = BUILD_DIR / "papermill"


@dataclass
class NotebookRun:
    notebook: str
    seconds: float
    peak_rss_bytes: int
    status: str  # "ok" or "failed"
    error: str = ""


def notebook_paths(only=()) -> list:
    """Course notebooks (``notebooks/NN_topic.ipynb``), optionally only the given numbers."""
    paths = sorted(NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb"))
    if only:
        wanted = {str(n).zfill(2) for n in only}
        missing = wanted - {p.name[:2] for p in paths}
        if missing:
            raise ValueError(f"no notebook numbered {sorted(missing)}; have {[p.name[:2] for p in paths]}")
        paths = [p for p in paths if p.name[:2] in wanted]
    return paths


def parse_parameter(text: str):
    """'3' -> 3, 'False' -> False, "'x'" -> 'x', anything else stays a string."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def children_peak_rss_bytes() -> int:
    """Largest resident set of any finished child process (the kernel), in bytes; 0 on Windows, which
    has no ``getrusage`` (the sampled peak of :class:`DescendantsPeak` stands alone there)."""
    try:
        import resource
    except ImportError:
        return 0
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # Linux reports KiB


def unexpected_errors(nb) -> list:
    """'cell N (execution count C): Name: message' for each error output of a cell NOT tagged
    ``raises-exception`` (those raise on purpose, as nbval and nbclient allow; papermill does not)."""
    found = []
    for index, cell in enumerate(nb.cells):
        if "raises-exception" in cell.get("metadata", {}).get("tags", []):
            continue
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                found.append(f"cell {index} (execution count {cell.get('execution_count')}): "
                             f"{output.get('ename')}: {output.get('evalue')}")
    return found


def _worker(source: str, target: str, parameters_json: str) -> None:
    """Run one notebook in this process; print one JSON line with the outcome."""
    import nbformat
    import papermill
    from papermill.exceptions import PapermillExecutionError

    outcome = {"status": "ok", "error": ""}
    sampled = DescendantsPeak()
    try:
        with sampled:
            papermill.execute_notebook(
                source, target, parameters=json.loads(parameters_json), cwd=str(Path(source).parent),
                kernel_name="python3", progress_bar=False, log_output=False,
            )
    except PapermillExecutionError as err:
        # papermill fails on any error output, even one a cell raises on purpose: look again
        first = f"cell {err.cell_index} (execution count {err.exec_count}): {err.ename}: {err.evalue}"
        errors = unexpected_errors(nbformat.read(target, as_version=4)) if Path(target).exists() else [first]
        if errors:
            outcome = {"status": "failed", "error": errors[0]}
    # the sampled sum catches a kernel and its servers together; ru_maxrss catches a single short spike
    outcome["peak_rss_bytes"] = max(sampled.peak_bytes, children_peak_rss_bytes())
    print(json.dumps(outcome))


def run_notebook(source: Path, out_dir: Path, parameters: dict) -> NotebookRun:
    """Execute one notebook with papermill in a worker process and measure it."""
    target = Path(out_dir) / source.name
    target.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "helpers.course.runner", "--worker", str(source), str(target), json.dumps(parameters)],
        capture_output=True, text=True,
    )
    seconds = time.perf_counter() - start
    try:
        outcome = json.loads(done.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        outcome = {"status": "failed", "error": "worker crashed: " + " | ".join(tail), "peak_rss_bytes": 0}
    return NotebookRun(source.name, round(seconds, 1), outcome["peak_rss_bytes"], outcome["status"], outcome["error"])


def summary_markdown(runs) -> str:
    """A Markdown table: notebook, seconds, peak memory (MiB: the kernel and what it started), status."""
    lines = ["| notebook | seconds | peak RSS (MiB) | status |", "| --- | ---: | ---: | --- |"]
    for run in runs:
        status = run.status if not run.error else f"{run.status}: {run.error}"
        lines.append(f"| {run.notebook} | {run.seconds:.1f} | {run.peak_rss_bytes / 2**20:.0f} | {status} |")
    total = sum(run.seconds for run in runs)
    lines.append(f"| **total** | {total:.1f} | | {sum(r.status == 'ok' for r in runs)}/{len(runs)} ok |")
    return "\n".join(lines) + "\n"


def write_summary(runs, out_dir: Path) -> None:
    write_text_atomic(Path(out_dir) / "summary.md", summary_markdown(runs))
    rows = [asdict(run) for run in runs]
    with atomic_path(Path(out_dir) / "summary.csv") as tmp, open(tmp, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(NotebookRun.__dataclass_fields__))
        writer.writeheader()
        writer.writerows(rows)


def run_all(paths, out_dir: Path = DEFAULT_OUT_DIR, parameters=None) -> list:
    """Run each notebook in turn, printing progress; return the list of NotebookRun."""
    parameters = {**DEFAULT_PARAMETERS, **(parameters or {})}
    runs = []
    for path in paths:
        print(f"running {path.name} ...", end=" ", flush=True)
        run = run_notebook(Path(path), out_dir, parameters)
        print(f"{run.status} in {run.seconds:.1f} s" + (f" -- {run.error}" if run.error else ""), flush=True)
        runs.append(run)
    write_summary(runs, out_dir)
    return runs


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--worker"]:
        _worker(*argv[1:4])
        return 0
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="*", default=(), help="notebook numbers, e.g. 00 03")
    parser.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"))
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT_DIR, help="folder for executed copies")
    parser.add_argument("--results", type=Path, help="also write the table as a results file (e.g. "
                        "benchmarks/results/notebook_times.md), headed by the command, code version and other work")
    args = parser.parse_args(argv)
    parameters = {name: parse_parameter(value) for name, value in args.parameter}
    other_work = OtherWork()
    runs = run_all(notebook_paths(args.only), args.out, parameters)
    print(summary_markdown(runs))
    if args.results:
        command = ".venv/bin/python -m helpers.course.runner " + " ".join(argv)
        header = report_header("Notebook run times and peak memory", command.strip(),
                               ("papermill, one notebook at a time", "peak RSS: the kernel and every process it "
                                "started, sampled every 0.2 s, MiB = 2**20 bytes"), other_work)
        write_text_atomic(args.results, "\n".join(header) + "\n" + summary_markdown(runs))
    print(f"executed notebooks and summary in {relative_to_repo(args.out)}/")
    failed = [run for run in runs if run.status != "ok"]
    for run in failed:
        print(f"FAILED: {run.notebook}: {run.error}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
