"""Exercise checks of notebooks 12 and 13."""
from helpers.exercises.cost import check_energy_per_million, check_hardware_per_million
from helpers.exercises.hardware import check_fastest_in_budget, check_tokens_per_dollar


def test_fastest_and_per_dollar():
    assert check_fastest_in_budget("RTX 3090", "RTX 3090", ["RTX 3090", "RTX 4070"])
    assert "faster" in check_fastest_in_budget("RTX 4070", "RTX 3090", ["RTX 3090", "RTX 4070"]).message
    assert check_tokens_per_dollar(100, 150, 1500)
    assert "per dollar" in check_tokens_per_dollar(0.1, 150, 1500).message
    assert "Upside down" in check_tokens_per_dollar(10, 150, 1500).message


def test_energy_and_hardware():
    # 360 W, 100 tok/s: 1e4 s per million = 1 kWh -> $0.30
    assert check_energy_per_million(0.30, 360, 100, 0.30)
    assert "3.6 million" in check_energy_per_million(300, 360, 100, 0.30).message
    # $1000, 100 tok/s, 1 year, 12 h/day: 1.5768e9 tokens -> $0.634 per million
    assert check_hardware_per_million(1000 / 1576.8, 1000, 100, 1, 12)
    assert "24 hours" in check_hardware_per_million(1000 / 3153.6, 1000, 100, 1, 12).message
