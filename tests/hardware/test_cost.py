"""Cost model: amortisation and energy per million tokens, break-even, sourced API prices."""
import pytest
from hypothesis import given
from hypothesis import strategies as st

from helpers.hardware.cost import break_even_tokens_per_day, load_api_prices, local_cost_per_million


def test_known_case():
    # $1000 over 1 year at 24 h/day, 100 tok/s: 3.1536e9 tokens -> $0.317 per million of hardware.
    # 360 W for 1e4 s per million tokens = 1 kWh -> at $0.30/kWh, $0.30 per million.
    c = local_cost_per_million(1000, 100, 360, 0.30, years=1, hours_per_day=24)
    assert c.hardware_usd_per_million == pytest.approx(1000 / 3.1536e3)
    assert c.energy_usd_per_million == pytest.approx(0.30)
    assert c.total_usd_per_million == pytest.approx(c.hardware_usd_per_million + 0.30)


@given(st.floats(1, 1000), st.floats(1, 24))
def test_more_use_lowers_hardware_cost_not_energy(tps, hours):
    light = local_cost_per_million(2000, tps, 300, 0.2, hours_per_day=hours / 2)
    heavy = local_cost_per_million(2000, tps, 300, 0.2, hours_per_day=hours)
    assert heavy.hardware_usd_per_million < light.hardware_usd_per_million
    assert heavy.energy_usd_per_million == pytest.approx(light.energy_usd_per_million)


def test_break_even_and_refusals():
    assert break_even_tokens_per_day(1095, 1.0, 0.0, years=1) == pytest.approx(3e6)
    assert break_even_tokens_per_day(1000, 0.5, 0.6) == float("inf")
    with pytest.raises(ValueError, match="hours_per_day"):
        local_cost_per_million(1000, 10, 100, 0.3, hours_per_day=25)
    with pytest.raises(ValueError, match="tokens_per_second"):
        local_cost_per_million(1000, 0, 100, 0.3)


def test_api_prices_are_dated_and_sourced():
    prices = load_api_prices()
    assert len(prices) >= 3
    assert all(p.source.startswith("https://") and p.date and p.output_usd_per_million >= p.input_usd_per_million
               for p in prices)
