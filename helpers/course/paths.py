"""Where the course keeps things: repository root, catalogs, build outputs, the machine card."""
import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = REPO_ROOT / "data"
LESSONS_DIR = REPO_ROOT / "lessons"
NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
BUILD_DIR = REPO_ROOT / "build"


def machine_card_path() -> Path:
    """The machine card written by notebook 00 (override with COURSE_MACHINE_CARD)."""
    return Path(os.environ.get("COURSE_MACHINE_CARD", BUILD_DIR / "machine_card.json"))


def relative_to_repo(path: Path) -> str:
    """A path as shown to learners: relative to the repository when inside it, never absolute."""
    path = Path(path).resolve()
    try:
        return str(path.relative_to(REPO_ROOT))
    except ValueError:
        return path.name
