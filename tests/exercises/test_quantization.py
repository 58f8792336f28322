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


def test_least_drift():
    import pytest

    from helpers.exercises.quantization import check_least_drift

    kl = {"Q5_K_M": 0.25, "Q4_K_M": 0.13, "Q3_K_M": 0.33}
    bits = {"Q5_K_M": 6.56, "Q4_K_M": 6.17, "Q3_K_M": 5.46}
    assert check_least_drift("Q4_K_M", kl, bits)
    assert "more bits per weight" in check_least_drift("Q5_K_M", kl, bits).message
    assert "compare the KL column" in check_least_drift("Q3_K_M", kl, bits).message
    assert "not one of" in check_least_drift("Q8_0", kl, bits).message
    assert not check_least_drift(None, kl, bits)
    with pytest.raises(ValueError, match="same mixes"):
        check_least_drift("Q4_K_M", kl, {"Q4_K_M": 6.17})
