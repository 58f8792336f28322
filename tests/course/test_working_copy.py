"""The learner's working copy follows nbgitpuller's rules and never deletes the learner's work."""
import json
from datetime import datetime

import pytest

from helpers.course.working_copy import (
    MANIFEST_NAME,
    course_files,
    notebook_by_number,
    read_manifest,
    reset_notebook,
    sha256_file,
    sync_working_copy,
    timestamped_name,
)

NOW = datetime(2025, 1, 31, 14, 25, 1)


def make_course(root):
    (root / "notebooks" / ".ipynb_checkpoints").mkdir(parents=True)
    (root / "notebooks" / "00_setup_check.ipynb").write_text("course 00 v1")
    (root / "notebooks" / "03_run_a_local_llm.ipynb").write_text("course 03 v1")
    (root / "notebooks" / ".ipynb_checkpoints" / "00_setup_check-checkpoint.ipynb").write_text("checkpoint")
    (root / "lessons").mkdir()
    (root / "lessons" / "syllabus.md").write_text("[glossary](glossary.md) [00](../notebooks/00_setup_check.ipynb)")
    (root / "lessons" / "glossary.md").write_text("terms")
    (root / "lessons" / "00_setup_check.py").write_text("# the lesson source stays in the course")
    return root


@pytest.fixture
def course(tmp_path):
    return make_course(tmp_path / "course")


@pytest.fixture
def work(tmp_path):
    return tmp_path / "my-work"


def test_a_first_sync_copies_notebooks_syllabus_and_glossary_in_the_course_layout(course, work):
    report = sync_working_copy(course, work)
    assert sorted(report.added) == ["lessons/glossary.md", "lessons/syllabus.md",
                                    "notebooks/00_setup_check.ipynb", "notebooks/03_run_a_local_llm.ipynb"]
    assert (work / "notebooks" / "00_setup_check.ipynb").read_text() == "course 00 v1"
    # the syllabus' relative links resolve inside the working copy
    assert (work / "lessons" / "syllabus.md").read_text().count("../notebooks/00_setup_check.ipynb") == 1
    assert (work / "lessons" / "../notebooks/00_setup_check.ipynb").exists()
    assert not (work / "notebooks" / ".ipynb_checkpoints").exists()
    assert not (work / "lessons" / "00_setup_check.py").exists()
    assert read_manifest(work)["notebooks/03_run_a_local_llm.ipynb"] == sha256_file(course / "notebooks" / "03_run_a_local_llm.ipynb")


def test_a_new_course_notebook_is_copied_in(course, work):
    sync_working_copy(course, work)
    (course / "notebooks" / "04_prompt_engineering.ipynb").write_text("course 04 v1")
    report = sync_working_copy(course, work)
    assert report.added == ["notebooks/04_prompt_engineering.ipynb"]
    assert (work / "notebooks" / "04_prompt_engineering.ipynb").read_text() == "course 04 v1"


def test_a_file_the_learner_never_changed_is_updated(course, work):
    sync_working_copy(course, work)
    (course / "notebooks" / "03_run_a_local_llm.ipynb").write_text("course 03 v2")
    report = sync_working_copy(course, work)
    assert report.updated == ["notebooks/03_run_a_local_llm.ipynb"]
    assert (work / "notebooks" / "03_run_a_local_llm.ipynb").read_text() == "course 03 v2"
    (course / "notebooks" / "03_run_a_local_llm.ipynb").write_text("course 03 v3")  # and again: v2 is now pristine
    sync_working_copy(course, work)
    assert (work / "notebooks" / "03_run_a_local_llm.ipynb").read_text() == "course 03 v3"


def test_a_file_the_learner_changed_is_kept_as_it_is(course, work):
    sync_working_copy(course, work)
    (work / "notebooks" / "03_run_a_local_llm.ipynb").write_text("my answers")
    (course / "notebooks" / "03_run_a_local_llm.ipynb").write_text("course 03 v2")
    report = sync_working_copy(course, work)
    assert (work / "notebooks" / "03_run_a_local_llm.ipynb").read_text() == "my answers"
    assert report.kept == ["notebooks/03_run_a_local_llm.ipynb"]
    assert any("python course.py reset 03" in line for line in report.lines())
    # still the learner's on every later start: the manifest keeps the version it came from
    (course / "notebooks" / "03_run_a_local_llm.ipynb").write_text("course 03 v3")
    sync_working_copy(course, work)
    assert (work / "notebooks" / "03_run_a_local_llm.ipynb").read_text() == "my answers"


def test_a_changed_file_is_not_reported_while_the_course_version_stays_the_same(course, work):
    sync_working_copy(course, work)
    (work / "notebooks" / "00_setup_check.ipynb").write_text("my answers")
    report = sync_working_copy(course, work)
    assert report.lines() == []
    assert (work / "notebooks" / "00_setup_check.ipynb").read_text() == "my answers"


def test_a_file_the_learner_deleted_is_restored(course, work):
    sync_working_copy(course, work)
    (work / "notebooks" / "00_setup_check.ipynb").unlink()
    (work / "lessons" / "glossary.md").unlink()
    report = sync_working_copy(course, work)
    assert sorted(report.restored) == ["lessons/glossary.md", "notebooks/00_setup_check.ipynb"]
    assert report.added == []
    assert (work / "notebooks" / "00_setup_check.ipynb").read_text() == "course 00 v1"


def test_a_learners_own_file_in_the_way_of_a_new_course_file_is_kept_beside_it(course, work):
    sync_working_copy(course, work)
    (work / "notebooks" / "04_prompt_engineering.ipynb").write_text("my own notebook")
    (course / "notebooks" / "04_prompt_engineering.ipynb").write_text("course 04 v1")
    report = sync_working_copy(course, work, now=NOW)
    assert report.moved_aside == [("notebooks/04_prompt_engineering.ipynb",
                                   "notebooks/04_prompt_engineering_20250131-142501.ipynb")]
    assert (work / "notebooks" / "04_prompt_engineering.ipynb").read_text() == "course 04 v1"
    assert (work / "notebooks" / "04_prompt_engineering_20250131-142501.ipynb").read_text() == "my own notebook"


def test_a_learners_file_the_course_dropped_stays(course, work):
    sync_working_copy(course, work)
    (course / "notebooks" / "03_run_a_local_llm.ipynb").unlink()
    sync_working_copy(course, work)
    assert (work / "notebooks" / "03_run_a_local_llm.ipynb").read_text() == "course 03 v1"
    assert "notebooks/03_run_a_local_llm.ipynb" not in read_manifest(work)


def test_reset_keeps_the_learners_version_beside_the_course_one(course, work):
    sync_working_copy(course, work)
    (work / "notebooks" / "03_run_a_local_llm.ipynb").write_text("my answers")
    rel, kept = reset_notebook(course, work, "3", now=NOW)
    assert rel == "notebooks/03_run_a_local_llm.ipynb"
    assert kept == "notebooks/03_run_a_local_llm_20250131-142501.ipynb"
    assert (work / rel).read_text() == "course 03 v1"
    assert (work / kept).read_text() == "my answers"
    # a second reset in the same second keeps that version too, under another name
    (work / rel).write_text("second try")
    _, kept_again = reset_notebook(course, work, "03", now=NOW)
    assert kept_again == "notebooks/03_run_a_local_llm_20250131-142501-2.ipynb"
    assert (work / kept).read_text() == "my answers"
    # after a reset the file counts as unchanged again: a new course version reaches it
    (course / rel).write_text("course 03 v2")
    assert sync_working_copy(course, work).updated == [rel]


def test_reset_of_an_unchanged_or_missing_notebook_keeps_nothing(course, work):
    rel, kept = reset_notebook(course, work, "00", now=NOW)  # no working copy yet
    assert kept is None and (work / rel).read_text() == "course 00 v1"
    assert reset_notebook(course, work, "00", now=NOW) == (rel, None)
    assert sorted(p.name for p in (work / "notebooks").iterdir()) == ["00_setup_check.ipynb"]


@pytest.mark.parametrize("number", ["7", "99", "abc", "", "-1"])
def test_an_unknown_notebook_number_names_the_allowed_ones(course, number):
    with pytest.raises(ValueError, match=rf"no course notebook numbered {number!r}; allowed: 00-03"):
        notebook_by_number(course, number)


def test_a_broken_manifest_is_named(course, work):
    work.mkdir()
    (work / MANIFEST_NAME).write_text("{not json")
    with pytest.raises(ValueError, match=MANIFEST_NAME):
        sync_working_copy(course, work)
    (work / MANIFEST_NAME).write_text(json.dumps({"version": 99, "files": {}}))
    with pytest.raises(ValueError, match="version 99"):
        read_manifest(work)


def test_timestamped_names_never_take_an_existing_name(tmp_path):
    first = timestamped_name(tmp_path / "a.ipynb", NOW)
    assert first.name == "a_20250131-142501.ipynb"
    first.write_text("x")
    assert timestamped_name(tmp_path / "a.ipynb", NOW).name == "a_20250131-142501-2.ipynb"


def test_the_real_course_has_every_notebook_and_both_documents():
    from helpers.course.paths import NOTEBOOKS_DIR, REPO_ROOT

    files = course_files(REPO_ROOT)
    assert {"lessons/syllabus.md", "lessons/glossary.md"} <= set(files)
    assert {f"notebooks/{p.name}" for p in NOTEBOOKS_DIR.glob("*.ipynb")} <= set(files)
