"""The rehearsal's pure parts: bounded learners, cells with parameters, the sizing table and its file.
(The parts that talk to a hub are tested against a real one in test_hub.py.)"""
import math

import nbformat
import pytest

from helpers.workshop.rehearsal import (
    LearnerRun,
    NotebookRun,
    code_cells,
    learner_names,
    learners_that_fit,
    read_papermill_summary,
    rehearsal_roster_text,
    results_markdown,
    sizing_rows,
)
from helpers.workshop.roster import parse_roster

MiB, GiB = 2**20, 2**30


def test_learners_are_bounded():
    assert learner_names(2) == ["learner01", "learner02"]
    assert parse_roster(rehearsal_roster_text(3)).admins == ("instructor",)
    for bad in (0, 17, 2.5):
        with pytest.raises(ValueError, match="from 1 to 16"):
            learner_names(bad)


def test_code_cells_inject_parameters_after_the_parameters_cell():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# title"),
                nbformat.v4.new_code_cell("QUICK = None", metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell("1 / 0", metadata={"tags": ["raises-exception"]}),
                nbformat.v4.new_code_cell("print(QUICK)")]
    assert code_cells(nb, {"QUICK": True}) == [("QUICK = None", False), ("QUICK = True", False),
                                               ("1 / 0", True), ("print(QUICK)", False)]


def test_learners_that_fit():
    assert learners_that_fit(16 * GiB, 2 * GiB, GiB + 1) == 13
    assert learners_that_fit(GiB, 2 * GiB, GiB) == 0
    with pytest.raises(ValueError, match="positive"):
        learners_that_fit(GiB, 0, 0)


def _runs():
    return [LearnerRun("learner01", 5.0, [NotebookRun("00_a.ipynb", 10.0, 5.0, 1000 * MiB, 800 * MiB)]),
            LearnerRun("learner02", 6.0, [NotebookRun("00_a.ipynb", 20.0, 5.0, 1200 * MiB, 900 * MiB)])]


def test_sizing_from_rehearsal_and_papermill_peaks():
    rows = sizing_rows(_runs(), {"00_a.ipynb": 1, "05_b.ipynb": 2000 * MiB, "01_c.ipynb": 100 * MiB}, ram_bytes=24 * GiB, cores=2,
                       reserve_bytes=2 * GiB)
    rehearsed, light, other = rows  # in notebook order, whatever the source
    assert light.notebook == "01_c.ipynb"
    assert (rehearsed.notebook, rehearsed.source, rehearsed.per_learner_bytes) == ("00_a.ipynb", "rehearsal", 1200 * MiB)
    assert rehearsed.learners_by_ram == (22 * GiB) // (1200 * MiB)
    assert rehearsed.cores_per_learner == 0.5  # median of 5/10 and 5/20
    assert rehearsed.learners_by_cores == 4
    assert other.source == "papermill + server" and other.per_learner_bytes == 2000 * MiB + 300 * MiB
    assert math.isnan(other.cores_per_learner) and other.learners_by_cores == -1


def test_failed_runs_do_not_size_anything():
    runs = [LearnerRun("learner01", 5.0, [NotebookRun("00_a.ipynb", 1.0, 1.0, MiB, MiB, "failed", "boom")])]
    assert sizing_rows(runs, {"05_b.ipynb": MiB}, ram_bytes=GiB, cores=2, reserve_bytes=0) == []


def test_papermill_summary_is_read_when_present(tmp_path):
    assert read_papermill_summary(tmp_path / "missing.csv") == {}
    path = tmp_path / "summary.csv"
    path.write_text("notebook,seconds,peak_rss_bytes,status,error\n00_a.ipynb,1.0,123,ok,\n01_b.ipynb,2.0,456,failed,x\n")
    assert read_papermill_summary(path) == {"00_a.ipynb": 123}


def test_results_file_names_command_machine_and_table():
    runs = _runs() + [LearnerRun("learner03", status="failed", error="timed out")]
    rows = sizing_rows(runs, {}, ram_bytes=24 * GiB, cores=2, reserve_bytes=2 * GiB)
    text = results_markdown(runs, rows, command="python -m helpers.workshop rehearse --learners 3", machine="Test CPU",
                            ram_bytes=24 * GiB, cores=2, reserve_bytes=2 * GiB, load=(3.0, 5.5))
    assert "Load average (1 min) before / after: 3.0 / 5.5 on 2 cores." in text
    assert "`python -m helpers.workshop rehearse --learners 3` · code version " in text and "Test CPU, 2 logical cores" in text
    assert "| learner02 | 6.0 | 00_a.ipynb | 20.0 | 5.0 | 1,200 | 900 | ok |" in text
    assert "| learner03 |  | | | | | | failed: timed out |" in text
    assert "| 00_a.ipynb | rehearsal | 1,200 | 18 | 4 | 52 | 32 |" in text
    assert "No papermill summary" in text
    assert "other work: the load average was 3.0 before the learners started" in text
    quiet = results_markdown(runs, rows, command="x", machine="Test CPU", ram_bytes=24 * GiB, cores=2,
                             reserve_bytes=2 * GiB, load=(0.1, 2.0))
    assert "other work:" not in quiet and "share the machine's cores with each other, so wall times" in quiet
