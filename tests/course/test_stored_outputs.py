"""What a learner reads without running anything: stored outputs free of placeholders and stale claims."""
import re

import nbformat
import pytest

from helpers.course.paths import NOTEBOOKS_DIR, REPO_ROOT

PLACEHOLDERS = re.compile(r"TO BE COMPLETED|\bTODO\b|\bFIXME\b|\bXXX\b")
# "none yet in data/x/", "no files yet in data/x": claims that an artefact is missing
MISSING_CLAIM = re.compile(r"(?:none|no \w+) yet in ([\w./-]+)")


def output_texts(notebook) -> list:
    """(cell index, text) of every stored text output of a notebook."""
    texts = []
    for index, cell in enumerate(nbformat.read(notebook, as_version=4).cells):
        for output in cell.get("outputs", []):
            text = output.get("text") or output.get("data", {}).get("text/plain") or ""
            texts.append((index, "".join(text)))
    return texts


def stale_findings(texts, root=REPO_ROOT) -> list:
    """Placeholders, and 'none yet in <folder>' where the folder has files."""
    found = []
    for index, text in texts:
        found += [f"cell {index}: placeholder {m.group(0)!r}" for m in PLACEHOLDERS.finditer(text)]
        for m in MISSING_CLAIM.finditer(text):
            folder = root / m.group(1)
            if folder.is_dir() and any(folder.iterdir()):
                found.append(f"cell {index}: says {m.group(0)!r} but {m.group(1)} has files")
    return found


def test_findings_catch_placeholders_and_stale_claims(tmp_path):
    (tmp_path / "data" / "model").mkdir(parents=True)
    (tmp_path / "data" / "model" / "weights.gguf").write_bytes(b"x")
    texts = [(0, "TO BE COMPLETED: run the benchmark"), (1, "file: none yet in data/model/"),
             (2, "file: none yet in data/empty/"), (3, "all good")]
    assert stale_findings(texts, tmp_path) == [
        "cell 0: placeholder 'TO BE COMPLETED'",
        "cell 1: says 'none yet in data/model/' but data/model/ has files"]


@pytest.mark.parametrize("notebook", sorted(NOTEBOOKS_DIR.glob("*.ipynb")), ids=lambda p: p.stem)
def test_stored_outputs_have_no_placeholders_or_stale_claims(notebook):
    assert stale_findings(output_texts(notebook)) == []
