"""The SPM tokenizer: training, and encoding identical to llama.cpp's for the same vocabulary."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.course.paths import DATA_DIR
from helpers.llm.load import load_model
from helpers.training.corpus import load_split
from helpers.training.tokenizer import BOS, FIRST_BYTE_ID, SPACE, SpmVocab, train_spm_bpe

SHIPPED = DATA_DIR / "tiny_llama"
TEXT = "the cat sat on the mat\nthe cat ate the rat\n" * 20


@pytest.fixture(scope="module")
def shipped_vocab():
    return SpmVocab.load(SHIPPED / "vocab.json")


@pytest.fixture(scope="module")
def shipped_llm():
    return load_model(SHIPPED / "tiny_llama-q8_0.gguf")


@pytest.fixture(scope="module")
def small_vocab():
    return train_spm_bpe(TEXT, vocab_size=3 + 256 + 20, min_char_count=1)[0]


def test_layout_specials_bytes_then_pieces(small_vocab):
    v = small_vocab
    assert v.tokens[:3] == ["<unk>", "<s>", "</s>"]
    assert v.tokens[FIRST_BYTE_ID + 0x41] == "<0x41>" and v.types[FIRST_BYTE_ID + 0x41] == 6
    assert len(v) == 3 + 256 + 20
    assert f"{SPACE}the" in v.tokens


def test_most_frequent_pair_merged_first():
    vocab, merges = train_spm_bpe("xab yab zab", vocab_size=3 + 256 + 6 + 1, min_char_count=1)
    assert merges[0] == ("a", "b")


def test_unknown_character_falls_back_to_utf8_bytes(small_vocab):
    ids = small_vocab.encode("é")
    assert ids[-2:] == [FIRST_BYTE_ID + 0xC3, FIRST_BYTE_ID + 0xA9]
    assert small_vocab.decode(ids) == " é"


def test_bos_and_leading_space(small_vocab):
    ids = small_vocab.encode("the", add_bos=True)
    assert ids[0] == BOS
    assert small_vocab.decode(ids) == " the"


def test_empty_text_gives_no_tokens(small_vocab):
    assert small_vocab.encode("") == []
    assert small_vocab.encode("", add_bos=True) == [BOS]


def test_vocab_refuses_piece_with_inner_space():
    with pytest.raises(ValueError, match="only at the start"):
        SpmVocab(["a▁b"], [0.0], [1])


def test_too_small_vocab_size_named():
    with pytest.raises(ValueError, match="vocab_size 10"):
        train_spm_bpe(TEXT, vocab_size=10)


@given(st.text(alphabet="the catsomr\né!", min_size=1, max_size=40))
@settings(max_examples=200, deadline=None)
def test_round_trip_adds_exactly_one_leading_space(small_vocab, text):
    assert small_vocab.decode(small_vocab.encode(text)) == " " + text


@pytest.mark.slow
def test_ids_equal_llama_cpp_on_heldout_text(shipped_llm, shipped_vocab):
    speeches = [s for s in load_split("heldout").split("\n\n") if s][:300]
    speeches += ["  double  spaces", "naïve café — ünïcode ✓", "x" * 50, "\n\nnew lines\n"]
    for text in speeches:
        ours = shipped_vocab.encode(text, add_bos=True)
        theirs = shipped_llm.tokenize(text.encode("utf-8"), add_bos=True, special=False)
        assert ours == theirs, text[:60]
        # llama.cpp drops the added leading space after BOS; without BOS it stays (as in our decode)
        assert shipped_llm.detokenize(theirs).decode("utf-8") == text
        plain = shipped_llm.tokenize(text.encode("utf-8"), add_bos=False, special=False)
        assert shipped_llm.detokenize(plain).decode("utf-8") == " " + text == shipped_vocab.decode(plain)
