"""Exercise checks of notebooks 06 and 07: right answers pass, typical mistakes get their hint."""
from helpers.exercises.number_formats import check_bf16_model_gb, check_format_for_large_value, check_int8_max_error


def test_bf16_size():
    assert check_bf16_model_gb(2.0, 1e9)
    assert "bits" in check_bf16_model_gb(16.0, 1e9).message
    assert "GiB" in check_bf16_model_gb(2e9 / 2**30, 1e9).message
    assert "fp32" in check_bf16_model_gb(4.0, 1e9).message
    assert not check_bf16_model_gb(None, 1e9)


def test_large_value_format():
    assert check_format_for_large_value("bf16", 70000)
    assert "65504" in check_format_for_large_value("fp16", 70000).message
    assert check_format_for_large_value("fp16", 1000)
    assert "mantissa" in check_format_for_large_value("bf16", 1000).message


def test_int8_error():
    assert check_int8_max_error(0.5 / 127 / 2, 0.5)
    assert "half a step" in check_int8_max_error(0.5 / 127, 0.5).message
    assert "/ 127" in check_int8_max_error(0.5 / 255 / 2, 0.5).message
