"""Where the test suite's time goes: every notebook's nbval run in CI (quick) mode, and the slowest test files.

Runs the README's test command (`pytest -n 2 --dist loadfile`, ruff excluded) with a JUnit report,
then sums the reported time of each file's tests (a notebook's cells are its tests). Two worker
processes run files side by side, so the wall time is less than the sum of the files.

    .venv/bin/python benchmarks/test_suite_times.py [--jobs 2] [--top 15]

Writes benchmarks/results/test_suite_times.md.
"""
import argparse
import collections
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from helpers.course.other_work import OtherWork  # noqa: E402
from helpers.course.report import report_header, write_report  # noqa: E402


def file_seconds(junit_path: Path) -> dict:
    """{test file: seconds} summed over its test cases in a JUnit XML report."""
    totals = collections.Counter()
    for case in ET.parse(junit_path).getroot().iter("testcase"):
        dotted = case.get("classname", "")  # "notebooks.03_run_a_local_llm.ipynb" or "tests.gguf.test_header[.Class]"
        if dotted.endswith(".ipynb"):
            name = dotted[:-len(".ipynb")].replace(".", "/") + ".ipynb"
        else:
            parts = dotted.split(".")
            module = next((i for i, p in enumerate(parts) if p.startswith("test_")), len(parts) - 1)
            name = "/".join(parts[:module + 1]) + ".py"
        totals[name] += float(case.get("time", 0))
    return dict(totals)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--junit", type=Path, help="summarize this JUnit report of a finished run instead of running "
                        "pytest (python3 course.py test writes build/test-report.xml)")
    args = parser.parse_args(argv)
    if args.junit:
        junit, other_work = args.junit, None
        suite = ET.parse(junit).getroot()
        suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
        wall = float(suite.get("time", 0))
        status = 1 if int(suite.get("failures", 0)) + int(suite.get("errors", 0)) else 0
        run_line = f"summary of {junit.name}, written by the README's test command (python3 course.py test)"
    else:
        junit = ROOT / "build" / "test_suite_times.xml"
        junit.parent.mkdir(exist_ok=True)
        other_work = OtherWork()
        started = time.perf_counter()
        status = subprocess.run([sys.executable, "-m", "pytest", "-n", str(args.jobs), "--dist", "loadfile", "-q",
                                 f"--junitxml={junit}"], cwd=ROOT).returncode
        wall = time.perf_counter() - started
        run_line = f"pytest -n {args.jobs} --dist loadfile"
    seconds = file_seconds(junit)
    notebooks = sorted((k, v) for k, v in seconds.items() if k.endswith(".ipynb"))
    others = sorted(((k, v) for k, v in seconds.items() if not k.endswith(".ipynb")), key=lambda kv: -kv[1])
    command = ".venv/bin/python benchmarks/test_suite_times.py" + "".join(f" {a}" for a in (argv or sys.argv[1:]))
    text = "\n".join([
        *report_header("The test suite's time: notebooks in CI (quick) mode and the slowest test files", command,
                       (run_line, f"exit status {status}."), other_work),
        f"Wall time of the pytest run: **{wall:.0f} s** ({wall / 60:.1f} min); sum over files: "
        f"{sum(seconds.values()):.0f} s (two processes run side by side).", "",
        "| notebook (nbval, every cell) | seconds |", "|---|---:|",
        *[f"| {Path(k).name} | {v:.1f} |" for k, v in notebooks],
        f"| **all notebooks** | **{sum(v for _, v in notebooks):.0f}** |", "",
        f"| slowest test files (top {args.top}) | seconds |", "|---|---:|",
        *[f"| {k} | {v:.1f} |" for k, v in others[:args.top]],
        f"| **all test files** | **{sum(v for _, v in others):.0f}** |", ""])
    write_report("test_suite_times", text)


if __name__ == "__main__":
    main()
