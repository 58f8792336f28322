"""The workshop roster: one learner per line, the instructor marked ``admin``.

    # comments and blank lines are ignored
    ada admin        <- the instructor: an admin account
    grace            <- a learner
    linus

A user name is 1-32 characters: a lowercase letter first, then lowercase letters, digits, ``-`` or ``_``
(safe as a Unix account name, a folder name and a URL path). A bad line is refused with its number and
the reason; so is a roster with nobody in it or with no admin.
"""
import re
from dataclasses import dataclass
from pathlib import Path

USER_NAME = re.compile(r"[a-z][a-z0-9_-]{0,31}")
ROLES = ("learner", "admin")


class RosterError(ValueError):
    """A roster that cannot be used; the message names the line and the reason."""


@dataclass(frozen=True)
class Roster:
    learners: tuple  # user names, in roster order (admins included: they get a server too)
    admins: tuple  # the subset marked admin


def parse_line(line: str, number: int):
    """(name, is_admin) for one roster line, None for a blank or comment line; RosterError otherwise."""
    text = line.split("#", 1)[0].strip()
    if not text:
        return None
    fields = text.split()
    name = fields[0]
    if not USER_NAME.fullmatch(name):
        raise RosterError(f"roster line {number}: bad user name {name!r}: use 1-32 characters, a lowercase letter "
                          "first, then lowercase letters, digits, '-' or '_'")
    if len(fields) > 2:
        raise RosterError(f"roster line {number}: {text!r} has {len(fields)} fields; allowed: 'name' or 'name admin'")
    if len(fields) == 2 and fields[1] != "admin":
        raise RosterError(f"roster line {number}: unknown role {fields[1]!r} for {name!r}; allowed: 'admin' or nothing")
    return name, len(fields) == 2


def parse_roster(text: str) -> Roster:
    """Parse a roster's text; duplicates, bad names and unknown roles are refused with their line number."""
    seen = {}
    admins = []
    for number, line in enumerate(text.splitlines(), start=1):
        parsed = parse_line(line, number)
        if parsed is None:
            continue
        name, is_admin = parsed
        if name in seen:
            raise RosterError(f"roster line {number}: {name!r} is already on line {seen[name]}")
        seen[name] = number
        if is_admin:
            admins.append(name)
    if not seen:
        raise RosterError("the roster names nobody: write one learner per line")
    if not admins:
        raise RosterError("the roster has no admin: mark the instructor's line 'name admin'")
    return Roster(tuple(seen), tuple(admins))


def read_roster(path) -> Roster:
    """Read and parse a roster file (UTF-8)."""
    path = Path(path)
    if not path.is_file():
        raise RosterError(f"no roster file at {path}")
    return parse_roster(path.read_text(encoding="utf-8"))
