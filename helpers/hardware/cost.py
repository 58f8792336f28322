"""Cost per million generated tokens: owning hardware versus paying an API.

Local cost per token = (hardware price / the tokens it generates over its life) + (energy per token x
electricity price). Prices in US dollars, power in watts, energy in kWh, speeds in tokens/s.
"""
import csv
from dataclasses import dataclass

from helpers.course.paths import DATA_DIR

SECONDS_PER_YEAR = 365 * 24 * 3600


@dataclass(frozen=True)
class LocalCost:
    """Dollars per million generated tokens, split into hardware and electricity."""

    hardware_usd_per_million: float
    energy_usd_per_million: float

    @property
    def total_usd_per_million(self) -> float:
        return self.hardware_usd_per_million + self.energy_usd_per_million


def _positive(name, value, allow_zero=False):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (value >= 0 if allow_zero else value > 0):
        raise ValueError(f"{name} must be {'>= 0' if allow_zero else '> 0'}, got {value!r}")


def local_cost_per_million(price_usd: float, tokens_per_second: float, power_w: float, electricity_usd_per_kwh: float,
                           years: float = 3.0, hours_per_day: float = 8.0) -> LocalCost:
    """Cost of a million tokens on owned hardware used ``hours_per_day`` generating, written off over ``years``."""
    _positive("price_usd", price_usd, allow_zero=True)
    _positive("tokens_per_second", tokens_per_second)
    _positive("power_w", power_w, allow_zero=True)
    _positive("electricity_usd_per_kwh", electricity_usd_per_kwh, allow_zero=True)
    _positive("years", years)
    if not 0 < hours_per_day <= 24:
        raise ValueError(f"hours_per_day must be in (0, 24], got {hours_per_day!r}")
    lifetime_tokens = tokens_per_second * hours_per_day / 24 * years * SECONDS_PER_YEAR
    kwh_per_million = power_w * (1e6 / tokens_per_second) / 3.6e6
    return LocalCost(price_usd / lifetime_tokens * 1e6, kwh_per_million * electricity_usd_per_kwh)


def break_even_tokens_per_day(price_usd: float, api_usd_per_million: float, energy_usd_per_million: float,
                              years: float = 3.0) -> float:
    """Tokens per day above which owning is cheaper than the API (inf when energy alone costs more)."""
    _positive("api_usd_per_million", api_usd_per_million)
    margin = api_usd_per_million - energy_usd_per_million
    if margin <= 0:
        return float("inf")
    return price_usd / (margin / 1e6) / (years * 365)


@dataclass(frozen=True)
class ApiPrice:
    provider: str
    model: str
    input_usd_per_million: float
    output_usd_per_million: float
    date: str
    source: str


def load_api_prices() -> list:
    """Rows of ``data/api_prices.csv`` (list prices per million tokens, dated and sourced)."""
    with open(DATA_DIR / "api_prices.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    out = []
    for r in rows:
        if not r["source"].startswith("https://") or not r["date"]:
            raise ValueError(f"api_prices.csv row {r['model']!r} needs a date and an https source")
        out.append(ApiPrice(r["provider"], r["model"], float(r["input_usd_per_million"]),
                            float(r["output_usd_per_million"]), r["date"], r["source"]))
    return out
