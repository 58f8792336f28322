"""The roster: one learner per line, the instructor marked admin, bad lines refused with their number."""
import pytest

from helpers.workshop.roster import Roster, RosterError, parse_roster, read_roster


def test_learners_admins_comments_and_blank_lines():
    roster = parse_roster("# the room\ninstructor admin\n\nada\n  grace   # back row\nlinus_t-2\n")
    assert roster == Roster(("instructor", "ada", "grace", "linus_t-2"), ("instructor",))


@pytest.mark.parametrize("text, message", [
    ("boss admin\nAda\n", r"line 2: bad user name 'Ada'"),
    ("boss admin\n1ada\n", r"line 2: bad user name '1ada'"),
    ("boss admin\nada/../x\n", r"line 2: bad user name"),
    ("boss admin\n" + "a" * 33 + "\n", r"line 2: bad user name"),
    ("boss admin\n\nada teacher\n", r"line 3: unknown role 'teacher' for 'ada'; allowed: 'admin'"),
    ("boss admin\nada admin please\n", r"line 2: 'ada admin please' has 3 fields"),
    ("boss admin\nada\n# x\nada\n", r"line 4: 'ada' is already on line 2"),
])
def test_a_bad_line_is_refused_with_its_number_and_the_reason(text, message):
    with pytest.raises(RosterError, match=message):
        parse_roster(text)


def test_an_empty_roster_and_one_without_admin_are_refused():
    with pytest.raises(RosterError, match="names nobody"):
        parse_roster("# nobody yet\n\n")
    with pytest.raises(RosterError, match="no admin"):
        parse_roster("ada\ngrace\n")


def test_read_roster_file(tmp_path):
    path = tmp_path / "room.txt"
    path.write_text("teacher admin\nada\n", encoding="utf-8")
    assert read_roster(path).learners == ("teacher", "ada")
    with pytest.raises(RosterError, match="no roster file"):
        read_roster(tmp_path / "missing.txt")


def test_the_example_roster_parses():
    from helpers.course.paths import REPO_ROOT

    roster = read_roster(REPO_ROOT / "workshop" / "roster.example.txt")
    assert roster.admins == ("instructor",) and len(roster.learners) == 4


def test_the_start_command_refuses_a_bad_roster_before_starting_anything(tmp_path, capsys):
    from helpers.workshop.__main__ import main

    path = tmp_path / "room.txt"
    path.write_text("teacher admin\nada\nGrace\n", encoding="utf-8")
    assert main(["start", "--roster", str(path)]) == 2
    assert "roster line 3: bad user name 'Grace'" in capsys.readouterr().err
