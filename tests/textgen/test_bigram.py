import pytest

from helpers.textgen.bigram import average_surprise_bits, fit_bigram, generate, read_training_text


def test_counts_follow_the_text():
    model = fit_bigram("abab", smoothing=0.01)
    a, b = model.index("a"), model.index("b")
    assert model.counts[a, b] == pytest.approx(2.01)
    assert model.counts[b, a] == pytest.approx(1.01)
    assert model.counts[a, a] == pytest.approx(0.01)


def test_probabilities_sum_to_one_and_temperature_sharpens():
    model = fit_bigram("the then there these", smoothing=0.1)
    p1 = model.next_char_probabilities("t", 1.0)
    p_cold = model.next_char_probabilities("t", 0.3)
    assert p1.sum() == pytest.approx(1.0) and p_cold.sum() == pytest.approx(1.0)
    h = model.index("h")
    assert p1.argmax() == h and p_cold[h] > p1[h]


def test_generation_is_seeded_and_uses_the_alphabet():
    model = fit_bigram("to be or not to be", smoothing=0.01)
    first = generate(model, "t", 50, seed=3)
    assert first == generate(model, "t", 50, seed=3)
    assert len(first) == 51 and set(first) <= set(model.alphabet)


def test_model_predicts_its_own_text_better_than_reversed():
    text = "the quick brown fox jumps over the lazy dog " * 20
    model = fit_bigram(text)
    assert average_surprise_bits(model, text) < average_surprise_bits(model, text[::-1])


@pytest.mark.parametrize("call,match", [
    (lambda m: m.next_char_probabilities("z"), "'z' is not in"),
    (lambda m: m.next_char_probabilities("a", 0), "temperature"),
    (lambda m: generate(m, "a", -1), "length"),
])
def test_bad_input_is_named(call, match):
    with pytest.raises(ValueError, match=match):
        call(fit_bigram("abc"))


def test_fit_needs_text():
    with pytest.raises(ValueError, match="at least 2"):
        fit_bigram("a")


def test_read_training_text_relative_to_the_course_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a notebook runs in notebooks/
    assert read_training_text("data/shakespeare/heldout.txt").strip()
    (tmp_path / "mine.txt").write_text("héllo", encoding="utf-8")
    assert read_training_text("mine.txt") == "héllo"


def test_read_training_text_refuses_missing_and_binary_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="no text file at 'nothing.txt'.*None for the course's Shakespeare"):
        read_training_text("nothing.txt")
    binary = tmp_path / "weights.bin"
    binary.write_bytes(b"\x80\x81\xff")
    with pytest.raises(ValueError, match="weights.bin is not UTF-8 text .byte 0"):
        read_training_text(binary)
