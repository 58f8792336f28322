"""The README and the syllabus list every notebook once, with the minutes and needs its lesson states,
and the glossary links only to notebooks that exist and mention the term."""
import re

import pytest

from helpers.course.paths import REPO_ROOT

LESSONS = sorted((REPO_ROOT / "lessons").glob("[0-9][0-9]_*.py"))
ROW = re.compile(r"^\| (\d\d) \|(.*)\| *(\d+) *\| *(no|yes|optional) *\|$", re.MULTILINE)
TIME = re.compile(r"\*\*Time:\*\* (\d+) minutes · \*\*Needs:\*\* (.+)$", re.MULTILINE)


def syllabus_rows(path):
    """{number: (minutes, gpu)} for every `| NN | ... | minutes | gpu |` row of a markdown file."""
    rows = {}
    for number, _, minutes, gpu in ROW.findall(path.read_text()):
        assert number not in rows, f"{path.name} lists notebook {number} twice"
        rows[number] = (int(minutes), gpu)
    return rows


def lesson_time(lesson):
    """(minutes, needs) from a lesson's '**Time:** N minutes · **Needs:** ...' line."""
    match = TIME.search(lesson.read_text())
    assert match, f"{lesson.name} has no '**Time:** N minutes · **Needs:** ...' line"
    return int(match.group(1)), match.group(2).strip()


@pytest.mark.parametrize("table", ["README.md", "lessons/syllabus.md"])
def test_every_notebook_is_listed_with_its_lesson_minutes(table):
    rows = syllabus_rows(REPO_ROOT / table)
    numbers = {lesson.name[:2] for lesson in LESSONS}
    assert set(rows) == numbers, f"{table}: rows {sorted(rows)} vs lessons {sorted(numbers)}"
    for lesson in LESSONS:
        minutes, needs = lesson_time(lesson)
        listed_minutes, gpu = rows[lesson.name[:2]]
        assert listed_minutes == minutes, f"{table} says {listed_minutes} min for {lesson.name}, lesson {minutes}"
        assert (gpu == "no") == needs.startswith("CPU only"), f"{table}: GPU '{gpu}' but {lesson.name} needs '{needs}'"


def test_readme_links_point_to_existing_notebooks():
    links = re.findall(r"\]\((notebooks/[^)]+\.ipynb)\)", (REPO_ROOT / "README.md").read_text())
    assert links, "README links no notebook"
    missing = [link for link in links if not (REPO_ROOT / link).exists()]
    assert missing == []


def glossary_entries():
    """(term, [notebook file names]) for every row of the glossary."""
    text = (REPO_ROOT / "lessons" / "glossary.md").read_text()
    entries = []
    for line in text.splitlines():
        if line.startswith("| **"):
            term = re.match(r"\| \*\*(.+?)\*\*", line).group(1)
            entries.append((term, re.findall(r"\(\.\./notebooks/([^)]+\.ipynb)\)", line)))
    return entries


def test_glossary_terms_link_to_notebooks_that_teach_them():
    entries = glossary_entries()
    assert len(entries) >= 30
    for term, notebooks in entries:
        assert notebooks, f"glossary term '{term}' links to no notebook"
        for notebook in notebooks:
            lesson = REPO_ROOT / "lessons" / notebook.replace(".ipynb", ".py")
            assert lesson.exists(), f"glossary '{term}' links to missing {notebook}"
            words = [w for w in re.split(r"[ /()]+", term.lower()) if len(w) > 2]
            text = lesson.read_text().lower()
            assert any(word in text for word in words), f"{notebook} never mentions '{term}'"


def test_glossary_is_alphabetical():
    terms = [term.lower() for term, _ in glossary_entries()]
    assert terms == sorted(terms)
