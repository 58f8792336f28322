"""Every notebook is built from its lesson and agrees with it; every lesson has the course's shape."""
import re

import nbformat
import pytest

from helpers.course import build as course_build
from helpers.course.build import BUILD_METADATA, cell_signature, differences, lesson_paths, notebook_path_for, read_lesson
from helpers.course.other_work import NOISY_SHARE
from helpers.course.paths import NOTEBOOKS_DIR

LESSONS = lesson_paths()


def test_there_are_lessons():
    assert LESSONS, "no lessons found"


def test_every_notebook_has_a_lesson():
    lesson_stems = {p.stem for p in LESSONS}
    orphans = [p.name for p in NOTEBOOKS_DIR.glob("*.ipynb") if p.stem not in lesson_stems]
    assert not orphans, f"notebooks without a lesson source: {orphans}"


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.stem)
def test_notebook_matches_lesson(lesson):
    problems = differences(lesson, notebook_path_for(lesson))
    assert not problems, f"{lesson.name}: {problems}; rebuild with `make notebooks ONLY={lesson.name[:2]}`"


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.stem)
def test_lesson_shape(lesson):
    nb = read_lesson(lesson)
    first = nb.cells[0]
    assert first.cell_type == "markdown" and first.source.startswith(f"# {lesson.name[:2]} ·")
    assert "**Learning goals**" in first.source
    parameters = [c for c in nb.cells if "parameters" in c.metadata.get("tags", ())]
    assert len(parameters) == 1 and "QUICK = None" in parameters[0].source
    assert "start_notebook(QUICK" in "".join(c.source for c in nb.cells if c.cell_type == "code")
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert "## Summary" in markdown and "## Exercises" in markdown
    checks = [c for c in nb.cells if c.cell_type == "code" and "from helpers.exercises" in c.source]
    assert checks, "exercises must be checked by helpers.exercises functions"


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.stem)
def test_notebook_outputs_are_clean(lesson):
    nb = nbformat.read(notebook_path_for(lesson), as_version=4)
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        assert cell.get("execution_count") is not None, f"cell {index} was never executed"
        for output in cell.outputs:
            text = str(output)
            assert output.output_type != "error" or "raises-exception" in cell.metadata.get("tags", ()), \
                f"cell {index} stored a traceback"
            assert "/work/" not in text and "/home/" not in text and "/Users/" not in text, \
                f"cell {index} shows an absolute path"


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.stem)
def test_stored_notebook_was_built_on_a_quiet_machine(lesson):
    record = nbformat.read(notebook_path_for(lesson), as_version=4).metadata.get(BUILD_METADATA)
    assert record is not None, f"{lesson.name[:2]} was stored without the build's record of other work"
    assert record["other_work_share"] <= NOISY_SHARE, \
        f"{lesson.name[:2]} was built while other work used {record['other_work_share']:.0%} of the CPU"


def test_a_build_on_a_busy_machine_is_refused_and_writes_nothing(tmp_path, monkeypatch):
    lesson = tmp_path / "42_busy.py"
    lesson.write_text("# %%\nx = 1\n")
    monkeypatch.setattr(course_build, "NOTEBOOKS_DIR", tmp_path / "notebooks")
    monkeypatch.setattr(course_build, "execute", lambda nb: nb)
    monkeypatch.setattr(course_build.OtherWork, "share", lambda self: 0.4)
    with pytest.raises(course_build.BusyMachineError, match="other processes used 40% of this machine's CPU time "
                                                            "while 42_busy.py ran"):
        course_build.build(lesson)
    assert not (tmp_path / "notebooks").exists()
    (tmp_path / "notebooks").mkdir()
    stored = nbformat.read(course_build.build(lesson, allow_busy=True), as_version=4)
    assert stored.metadata[BUILD_METADATA]["other_work_share"] == 0.4


def test_signature_sees_tag_changes(tmp_path):
    cell = nbformat.v4.new_code_cell("x = 1", metadata={"tags": ["parameters"]})
    other = nbformat.v4.new_code_cell("x = 1")
    assert cell_signature(cell) != cell_signature(other)


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.stem)
def test_two_to_four_checked_exercises_with_worked_solutions(lesson):
    nb = read_lesson(lesson)
    start = next(i for i, c in enumerate(nb.cells) if c.cell_type == "markdown" and "## Exercises" in c.source)
    exercise_cells = [c for c in nb.cells[start:] if c.cell_type == "code" and "answer = None" in c.source]
    assert 2 <= len(exercise_cells) <= 4, f"{lesson.name}: {len(exercise_cells)} exercises"
    assert all("check_" in c.source for c in exercise_cells), "every exercise cell calls a check function"
    solutions = lesson.parent / "solutions" / f"{lesson.stem}.md"
    assert solutions.exists(), f"worked solutions missing: lessons/solutions/{solutions.name}"
    solved = set(re.findall(r"^(?:## |\*\*)(\d+)\.", solutions.read_text(), re.MULTILINE))
    wanted = {str(n) for n in range(1, len(exercise_cells) + 1)}
    assert wanted <= solved, f"{solutions.name} has no worked solution for exercise(s) {sorted(wanted - solved)}"


def quiet_lesson(tmp_path, monkeypatch, share: float):
    """A one-cell lesson built into tmp_path without a kernel, with ``share`` as the other work measured."""
    lesson = tmp_path / "42_quiet.py"
    lesson.write_text("# %%\nx = 1\n")
    (tmp_path / "notebooks").mkdir()
    monkeypatch.setattr(course_build, "NOTEBOOKS_DIR", tmp_path / "notebooks")
    monkeypatch.setattr(course_build, "lesson_paths", lambda only: [lesson])
    monkeypatch.setattr(course_build, "execute", lambda nb: nb)
    monkeypatch.setattr(course_build.OtherWork, "share", lambda self: share)
    return lesson


def test_the_build_records_time_and_peak_memory_and_writes_them_as_results(tmp_path, monkeypatch):
    quiet_lesson(tmp_path, monkeypatch, 0.02)
    results = tmp_path / "times.md"
    assert course_build.main(["--results", str(results)]) == 0
    record = nbformat.read(tmp_path / "notebooks" / "42_quiet.ipynb", as_version=4).metadata[BUILD_METADATA]
    assert record["other_work_share"] == 0.02 and record["seconds"] >= 0 and record["peak_rss_mib"] >= 0
    text = results.read_text()
    assert text.startswith("# Notebook build times and peak memory") and "code version " in text
    assert "| 42_quiet.ipynb |" in text


def test_results_can_be_written_from_the_stored_build_records(tmp_path, monkeypatch):
    lesson = quiet_lesson(tmp_path, monkeypatch, 0.03)
    course_build.build(lesson)
    results = tmp_path / "times.md"
    assert course_build.main(["--report-only", "--results", str(results)]) == 0
    assert "| 42_quiet.ipynb |" in results.read_text() and "ok: other work 3% of the CPU" in results.read_text()


def test_a_text_change_updates_the_stored_notebook_without_running_it(tmp_path, monkeypatch):
    lesson = tmp_path / "42_text.py"
    lesson.write_text("# %% [markdown]\n# Old words\n\n# %%\nprint(1)\n")
    (tmp_path / "notebooks").mkdir()
    monkeypatch.setattr(course_build, "NOTEBOOKS_DIR", tmp_path / "notebooks")
    stored = course_build.read_lesson(lesson)
    stored.cells[1].outputs = [nbformat.v4.new_output("stream", name="stdout", text="1\n")]
    nbformat.write(stored, tmp_path / "notebooks" / "42_text.ipynb")
    lesson.write_text("# %% [markdown]\n# New words\n\n# %%\nprint(1)\n")
    updated = nbformat.read(course_build.update_markdown(lesson), as_version=4)
    assert updated.cells[0].source == "New words" and updated.cells[1].outputs[0]["text"] == "1\n"
    lesson.write_text("# %% [markdown]\n# New words\n\n# %%\nprint(2)\n")
    with pytest.raises(ValueError, match="code cell 0 .* differs from the stored notebook; rebuild it instead"):
        course_build.update_markdown(lesson)
