"""Checks for the exercises of notebook 13 (cost, local against cloud)."""
from helpers.exercises import check_number
from helpers.hardware.cost import local_cost_per_million


def check_energy_per_million(answer, power_w: float, tokens_per_second: float, usd_per_kwh: float):
    """13 ex. 1: electricity cost (USD) of one million tokens."""
    right = local_cost_per_million(0, tokens_per_second, power_w, usd_per_kwh).energy_usd_per_million
    return check_number(answer, right, rel_tol=0.02, unit="USD", mistakes=[
        (right * 1000, "Watts x seconds are joules; a kWh is 3.6 million joules, not 3,600."),
        (right * 3600, "Power x time: divide the million tokens by the speed to get seconds, then convert to hours."),
    ])


def check_hardware_per_million(answer, price_usd, tokens_per_second, years, hours_per_day):
    """13 ex. 2: hardware cost (USD) per million tokens, written off over ``years``."""
    right = local_cost_per_million(price_usd, tokens_per_second, 0, 0, years, hours_per_day).hardware_usd_per_million
    all_day = local_cost_per_million(price_usd, tokens_per_second, 0, 0, years, 24).hardware_usd_per_million
    return check_number(answer, right, rel_tol=0.02, unit="USD", mistakes=[
        (all_day, "That assumes the machine generates 24 hours a day; use the hours per day given."),
    ])
