"""The papermill runner: parameters reach the notebook, failures name the notebook and the cell."""

import nbformat

from helpers.course.runner import (
    NotebookRun,
    parse_parameter,
    run_notebook,
    summary_markdown,
)


def _notebook(path, *sources):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell("QUICK = False", metadata={"tags": ["parameters"]})]
    nb.cells += [nbformat.v4.new_code_cell(s) for s in sources]
    nbformat.write(nb, path)
    return path


def test_parse_parameter():
    assert parse_parameter("3") == 3
    assert parse_parameter("False") is False
    assert parse_parameter("hello") == "hello"


def test_run_injects_parameters_and_measures(tmp_path):
    source = _notebook(tmp_path / "01_ok.ipynb", "assert QUICK is True\nprint('ran quick')")
    run = run_notebook(source, tmp_path / "out", {"QUICK": True})
    assert run.status == "ok", run.error
    assert run.peak_rss_bytes > 10 * 2**20  # a Python kernel holds tens of MiB
    executed = nbformat.read(tmp_path / "out" / "01_ok.ipynb", as_version=4)
    assert "ran quick" in str(executed.cells[-1].outputs)


def test_failing_cell_is_named(tmp_path):
    source = _notebook(tmp_path / "02_bad.ipynb", "x = 1", "raise ValueError('boom')")
    run = run_notebook(source, tmp_path / "out", {})
    assert run.status == "failed"
    assert "ValueError: boom" in run.error and "cell" in run.error


def test_summary_table_lists_every_run():
    runs = [NotebookRun("00_a.ipynb", 1.5, 100 * 2**20, "ok"), NotebookRun("01_b.ipynb", 2.0, 0, "failed", "cell 3")]
    table = summary_markdown(runs)
    assert "| 00_a.ipynb | 1.5 | 100 | ok |" in table
    assert "failed: cell 3" in table and "1/2 ok" in table


def test_cells_tagged_raises_exception_may_raise_but_nothing_else(tmp_path):
    def with_tagged_error(name, *after):
        path = _notebook(tmp_path / name, "raise KeyError('on purpose')", *after)
        nb = nbformat.read(path, as_version=4)
        nb.cells[1].metadata["tags"] = ["raises-exception"]
        nbformat.write(nb, path)
        return path

    fine = run_notebook(with_tagged_error("03_expected.ipynb", "print('after')"), tmp_path / "out", {})
    assert fine.status == "ok", fine.error
    bad = run_notebook(with_tagged_error("04_then_bad.ipynb", "raise ValueError('boom')"), tmp_path / "out", {})
    assert bad.status == "failed"
    assert "ValueError: boom" in bad.error and "KeyError" not in bad.error


def test_a_results_file_is_headed_by_the_command_and_the_code_version(tmp_path, monkeypatch):
    from helpers.course import runner

    source = _notebook(tmp_path / "01_ok.ipynb", "print('ok')")
    monkeypatch.setattr(runner, "notebook_paths", lambda only: [source])
    results = tmp_path / "times.md"
    assert runner.main(["--out", str(tmp_path / "out"), "--results", str(results)]) == 0
    text = results.read_text()
    assert text.startswith("# Notebook run times and peak memory")
    assert "Command: `.venv/bin/python -m helpers.course.runner --out" in text and "code version " in text
    assert "of this machine's CPU time while this ran" in text and "| 01_ok.ipynb |" in text
