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


def test_a_request_costs_its_prompt_and_its_reply():
    from helpers.hardware.cost import ApiPrice, Request, api_usd_per_request, busy_seconds_per_request

    price = ApiPrice("P", "m", input_usd_per_million=1.0, output_usd_per_million=4.0, date="2026-01", source="https://x")
    assert api_usd_per_request(price, Request(1000, 200)) == pytest.approx((1000 * 1.0 + 200 * 4.0) / 1e6)
    # 1,000 prompt tokens at 2,000 tokens/s, then 200 tokens of a batch that writes 100 tokens/s in all
    assert busy_seconds_per_request(Request(1000, 200), 2000, 100) == pytest.approx(0.5 + 2.0)
    with pytest.raises(ValueError, match="output_tokens must be a whole number of tokens"):
        Request(10, 0)
    with pytest.raises(ValueError, match="prompt_tokens must be a whole number"):
        Request(-1, 10)


def test_batching_divides_the_reply_time_and_the_energy():
    from helpers.hardware.cost import Request, busy_seconds_per_request, energy_usd_per_request

    alone = busy_seconds_per_request(Request(0, 100), 1000, 50)
    batched = busy_seconds_per_request(Request(0, 100), 1000, 8 * 40)  # 8 requests at 40 tokens/s each
    assert batched < alone / 6
    # 360 W for 10,000 s is 1 kWh
    assert energy_usd_per_request(10_000, 360, 0.30) == pytest.approx(0.30)


def test_wall_power_adds_the_host_and_the_power_supply_loss():
    from helpers.hardware.cost import wall_power_w

    assert wall_power_w(350, 60, psu_efficiency=0.9) == pytest.approx(410 / 0.9)
    assert wall_power_w(100) == pytest.approx(100 / 0.9)
    with pytest.raises(ValueError, match="psu_efficiency must be in"):
        wall_power_w(100, psu_efficiency=1.2)


def test_break_even_per_day_is_one_formula_for_tokens_and_requests():
    from helpers.hardware.cost import break_even_per_day

    # $1,095 over one year with a margin of $0.001 a request: 3,000 requests a day
    assert break_even_per_day(1095, 0.0015, 0.0005, years=1) == pytest.approx(3000)
    assert break_even_tokens_per_day(1095, 1.5, 0.5, years=1) == pytest.approx(break_even_per_day(1095, 1.5e-6, 0.5e-6, 1))
    assert break_even_per_day(1000, 0.001, 0.002) == float("inf")


def test_request_break_even_says_how_busy_the_machine_must_be():
    from helpers.hardware.cost import request_break_even

    # $1,095 for one year; each request: API $0.002, here 3.6 s at 1,000 W and $0.10/kWh = $0.0001
    point = request_break_even(1095, 0.002, 3.6, 1000, 0.10, years=1)
    assert point.requests_per_day == pytest.approx(3 / 0.0019)
    assert point.busy_hours_per_day == pytest.approx(point.requests_per_day * 3.6 / 3600)
    assert request_break_even(1095, 0.00005, 3.6, 1000, 0.10, years=1).requests_per_day == float("inf")
