"""A results file's header: title, command, code version, date, machine, other work, in that order; its place."""
import re
from datetime import datetime, timezone

import psutil
import pytest

from helpers.course import report
from helpers.course.other_work import OtherWork
from helpers.course.report import machine_line, report_header, write_report
from helpers.course.version import code_version


def test_machine_line_names_the_cpus_and_the_ram():
    line = machine_line()
    assert f"{psutil.cpu_count(logical=False)} physical / {psutil.cpu_count()} logical CPUs" in line
    assert line.endswith(f"{psutil.virtual_memory().total / 2**30:.0f} GiB RAM")


def test_header_lines_in_order():
    when = datetime(2026, 12, 7, 10, 24, tzinfo=timezone.utc)
    lines = report_header("Speed, measured", ".venv/bin/python benchmarks/x.py --reps 3", ("1 thread", "model m.gguf"),
                          now=when)
    assert lines == ["# Speed, measured", "",
                     f"Command: `.venv/bin/python benchmarks/x.py --reps 3` · code version {code_version()} · "
                     f"date (UTC): 2026-12-07 10:24 · machine: {machine_line()} · 1 thread · model m.gguf", ""]


def test_other_work_is_read_when_the_header_is_made():
    lines = report_header("T", "cmd", other_work=OtherWork())
    assert len(lines) == 6 and lines[4].startswith(("Other work used", "**Other work used")) and lines[5] == ""
    assert "date (UTC): " in lines[2] and "Other work" not in lines[2]


def test_the_code_version_ignores_results_files_but_not_code(tmp_path, monkeypatch):
    import subprocess

    from helpers.course import version

    def git(*args):
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=tmp_path, check=True,
                       capture_output=True)

    (tmp_path / "benchmarks" / "results").mkdir(parents=True)
    (tmp_path / "benchmarks" / "results" / "x.md").write_text("old figures\n")
    (tmp_path / "code.py").write_text("x = 1\n")
    git("init", "-q")
    git("add", ".")
    git("commit", "-q", "-m", "first")
    monkeypatch.setattr(version, "REPO_ROOT", tmp_path)
    clean = version.code_version()
    assert len(clean) >= 7 and "+" not in clean
    (tmp_path / "benchmarks" / "results" / "x.md").write_text("new figures\n")
    assert version.code_version() == clean
    (tmp_path / "code.py").write_text("x = 2\n")
    assert version.code_version() == clean + "+changes"


def test_write_report_writes_the_results_file_whole_and_prints_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(report, "RESULTS_DIR", tmp_path / "results")
    text = "# Speed, measured\n\n| a | b |\n|---|---|\n"
    write_report("speed", text)
    assert [p.name for p in (tmp_path / "results").iterdir()] == ["speed.md"]  # no temporary file left
    assert (tmp_path / "results" / "speed.md").read_text() == text
    assert capsys.readouterr().out == text + "\n"


def test_write_report_refuses_a_path_or_a_suffix(tmp_path, monkeypatch):
    monkeypatch.setattr(report, "RESULTS_DIR", tmp_path)
    for bad in ("", "speed.md", "../speed", "gpu_check/speed"):
        with pytest.raises(ValueError, match=re.escape(repr(bad))):
            write_report(bad, "text")
    assert list(tmp_path.iterdir()) == []
