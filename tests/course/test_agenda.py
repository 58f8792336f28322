"""The workshop agendas in the syllabus are the ones derived from the lessons' own minutes."""
import re

import pytest

from helpers.course import agenda
from helpers.course.agenda import Block, agenda_markdown, block_minutes, lesson_minutes, notebooks_left_out, timetable
from helpers.course.paths import REPO_ROOT

SYLLABUS = (REPO_ROOT / "lessons" / "syllabus.md").read_text()


def test_every_lesson_states_its_minutes():
    minutes = lesson_minutes()
    assert set(minutes) == {p.name[:2] for p in (REPO_ROOT / "lessons").glob("[0-9][0-9]_*.py")}
    assert all(10 <= m <= 60 for m in minutes.values())


@pytest.mark.parametrize("blocks, day", [(agenda.HALF_DAY, agenda.HALF_DAY_MINUTES),
                                         (agenda.FULL_DAY, agenda.FULL_DAY_MINUTES)])
def test_the_syllabus_shows_the_derived_agenda(blocks, day):
    table = agenda_markdown(blocks, lesson_minutes(), day)
    assert table in SYLLABUS, f"lessons/syllabus.md is out of date; print the agendas with python -m helpers.course.agenda:\n{table}"


def test_the_full_day_names_the_notebooks_it_leaves_out():
    left_out = notebooks_left_out(agenda.FULL_DAY, lesson_minutes())
    assert f"the full day ({', '.join(left_out)})" in SYLLABUS


def test_blocks_follow_each_other_and_add_their_notebooks_minutes():
    minutes = {"00": 10, "02": 30, "03": 30}
    rows = timetable([Block("a", ("00",)), Block("break", minutes=15), Block("b", ("02", "03"), minutes=5)], minutes)
    assert [(start, length) for start, _, length in rows] == [(0, 10), (10, 15), (25, 65)]


def test_an_agenda_that_overruns_the_day_is_refused():
    with pytest.raises(ValueError, match="the blocks take 70 minutes, the day has 60: cut 10 minutes"):
        agenda_markdown([Block("a", ("02", "03")), Block("break", minutes=10)], {"02": 30, "03": 30}, 60)


def test_unknown_notebooks_and_empty_blocks_are_refused():
    with pytest.raises(ValueError, match=r"names notebooks \['42'\] that have no lesson"):
        block_minutes(Block("x", ("42",)), {"00": 10})
    with pytest.raises(ValueError, match="needs notebooks or a positive number of minutes"):
        Block("nothing")


def test_every_notebook_belongs_to_exactly_one_part_of_the_learning_path():
    path = SYLLABUS.split("## Learning path", 1)[1].split("|", 1)[0]
    numbers = []
    for group in re.findall(r"\*\* \(([\d, -]+)\)", " ".join(path.split())):
        for part in group.split(","):
            first, _, last = part.strip().partition("-")
            numbers += [f"{n:02d}" for n in range(int(first), int(last or first) + 1)]
    assert sorted(numbers) == sorted(lesson_minutes()) and len(numbers) == len(set(numbers))
