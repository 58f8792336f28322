"""Workshop agendas derived from the notebooks' own minutes, so a timetable never promises a block
less time than its notebooks say they take.

Each lesson states its length in a line ``**Time:** N minutes · **Needs:** ...``. An agenda is a list
of :class:`Block`: notebooks (their minutes add up) or a fixed item such as a break. ``timetable``
turns the blocks into start times; ``agenda_markdown`` writes the table that ``lessons/syllabus.md``
shows (``python -m helpers.course.agenda`` prints both agendas).
Units: minutes throughout.
"""
import re
from dataclasses import dataclass

from helpers.course.paths import REPO_ROOT

LESSONS_DIR = REPO_ROOT / "lessons"
TIME_LINE = re.compile(r"\*\*Time:\*\* (\d+) minutes · \*\*Needs:\*\* (.+)$", re.MULTILINE)


@dataclass(frozen=True)
class Block:
    """One row of an agenda: notebooks by number (their minutes add up), or a fixed ``minutes`` item."""

    label: str
    notebooks: tuple = ()
    minutes: int = 0  # for items that are not notebooks (breaks, questions); added to the notebooks' time

    def __post_init__(self):
        if not self.notebooks and self.minutes <= 0:
            raise ValueError(f"block {self.label!r} needs notebooks or a positive number of minutes, "
                             f"got minutes={self.minutes!r}")


HALF_DAY = (
    Block("00 setup check (everyone's machine card)", ("00",)),
    Block("02 how text generation works, 03 run a local LLM", ("02", "03")),
    Block("break", minutes=15),
    Block("08 VRAM math, 09 will it run?", ("08", "09")),
    Block("10 tokens per second", ("10",)),
    Block("18 troubleshooting, questions", ("18",), minutes=10),
)
HALF_DAY_MINUTES = 210  # 3.5 hours

FULL_DAY = (
    Block("00 setup check, 02 how text generation works", ("00", "02")),
    Block("03 run a local LLM, 04 prompt engineering", ("03", "04")),
    Block("break", minutes=15),
    Block("05 context length, 08 VRAM math", ("05", "08")),
    Block("lunch", minutes=45),
    Block("09 will it run?, 10 tokens per second", ("09", "10")),
    Block("14 serve a model (one server for the room)", ("14",)),
    Block("break", minutes=15),
    Block("16 generate images", ("16",)),
    Block("18 troubleshooting, wrap-up", ("18",), minutes=10),
)
FULL_DAY_MINUTES = 420  # 7 hours


def lesson_minutes(lessons_dir=LESSONS_DIR) -> dict:
    """{notebook number "NN": minutes} from every lesson's ``**Time:**`` line."""
    minutes = {}
    for lesson in sorted(lessons_dir.glob("[0-9][0-9]_*.py")):
        match = TIME_LINE.search(lesson.read_text())
        if not match:
            raise ValueError(f"{lesson.name} has no '**Time:** N minutes · **Needs:** ...' line")
        minutes[lesson.name[:2]] = int(match.group(1))
    return minutes


def block_minutes(block: Block, minutes_by_notebook: dict) -> int:
    """How long ``block`` takes: its notebooks' minutes plus its fixed minutes."""
    unknown = [n for n in block.notebooks if n not in minutes_by_notebook]
    if unknown:
        raise ValueError(f"block {block.label!r} names notebooks {unknown} that have no lesson; "
                         f"known: {sorted(minutes_by_notebook)}")
    return sum(minutes_by_notebook[n] for n in block.notebooks) + block.minutes


def timetable(blocks, minutes_by_notebook: dict) -> list:
    """[(start minute, block, minutes)] with each block starting when the one before ends."""
    rows, start = [], 0
    for block in blocks:
        length = block_minutes(block, minutes_by_notebook)
        rows.append((start, block, length))
        start += length
    return rows


def notebooks_left_out(blocks, minutes_by_notebook: dict) -> list:
    """The notebook numbers no block of the agenda covers, in order."""
    covered = {n for block in blocks for n in block.notebooks}
    return sorted(set(minutes_by_notebook) - covered)


def clock(minutes: int) -> str:
    """Minutes from the start as H:MM."""
    return f"{minutes // 60}:{minutes % 60:02d}"


def agenda_markdown(blocks, minutes_by_notebook: dict, day_minutes: int) -> str:
    """The agenda as a markdown table (start, block, minutes), ending with the day's end.

    Refuses an agenda that does not fill the day exactly, naming the difference.
    """
    rows = timetable(blocks, minutes_by_notebook)
    end = rows[-1][0] + rows[-1][2] if rows else 0
    if end != day_minutes:
        raise ValueError(f"the blocks take {end} minutes, the day has {day_minutes}: "
                         f"{'cut' if end > day_minutes else 'add'} {abs(end - day_minutes)} minutes")
    lines = ["| time | block | minutes |", "| --- | --- | ---: |"]
    lines += [f"| {clock(start)} | {block.label} | {length} |" for start, block, length in rows]
    lines.append(f"| {clock(end)} | end | |")
    return "\n".join(lines)


def main() -> None:
    minutes = lesson_minutes()
    print(agenda_markdown(HALF_DAY, minutes, HALF_DAY_MINUTES), end="\n\n")
    print(agenda_markdown(FULL_DAY, minutes, FULL_DAY_MINUTES))


if __name__ == "__main__":
    main()
