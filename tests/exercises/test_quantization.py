"""Exercise checks of notebook 07: right answers pass, typical mistakes get their hint."""
from helpers.exercises.quantization import check_best_format, check_bits_per_weight, check_file_gb


def test_bits_per_weight():
    assert check_bits_per_weight(4.5, "Q4_K")
    assert "only the quants" in check_bits_per_weight(4.0, "Q4_K").message
    assert "bytes per block" in check_bits_per_weight(144, "Q4_K").message
    assert check_bits_per_weight(6.5625, "Q6_K")


def test_file_size():
    assert check_file_gb(4.5, 8e9, "Q4_K")
    assert "gigabits" in check_file_gb(36, 8e9, "Q4_K").message
    assert "GiB" in check_file_gb(4.5e9 / 2**30, 8e9, "Q4_K").message
    assert "block scales" in check_file_gb(4.0, 8e9, "Q4_K").message


def test_best_format():
    assert check_best_format("Q4_K", "Q4_K", ("Q4_0", "Q4_1", "Q4_K"))
    assert "RMSE" in check_best_format("Q4_0", "Q4_K", ("Q4_0", "Q4_1", "Q4_K")).message
