"""Cost per million generated tokens, and per request: owning hardware versus paying an API.

Local cost per token = (hardware price / the tokens it generates over its life) + (energy per token x
electricity price). Per request, what a machine spends is *time*: reading the prompt plus its share
of the decoding steps (with ``b`` requests batched, each step writes ``b`` tokens), at the power the
whole machine draws from the wall; an API bills the prompt's tokens and the reply's at two prices.
Prices in US dollars, power in watts, energy in kWh, speeds in tokens/s, times in seconds.
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


def break_even_per_day(price_usd: float, api_usd_each: float, energy_usd_each: float, years: float = 3.0) -> float:
    """Units (tokens, requests) per day above which owning is cheaper than the API, given what one unit
    costs through the API and in electricity here (inf when electricity alone costs more)."""
    _positive("api_usd_each", api_usd_each)
    _positive("years", years)
    margin = api_usd_each - energy_usd_each
    if margin <= 0:
        return float("inf")
    return price_usd / margin / (years * 365)


def break_even_tokens_per_day(price_usd: float, api_usd_per_million: float, energy_usd_per_million: float,
                              years: float = 3.0) -> float:
    """Tokens per day above which owning is cheaper than the API (inf when energy alone costs more)."""
    _positive("api_usd_per_million", api_usd_per_million)
    return break_even_per_day(price_usd, api_usd_per_million / 1e6, energy_usd_per_million / 1e6, years)


# 80 PLUS Gold power supplies deliver at least 90% of what they draw at half load (80 PLUS program
# requirements, https://www.clearesult.com/80plus/program-details): the rest is lost as heat.
PSU_EFFICIENCY = 0.90


def wall_power_w(device_w: float, host_w: float = 0.0, psu_efficiency: float = PSU_EFFICIENCY) -> float:
    """Watts drawn from the wall while generating: the device and the rest of the machine (CPU, board,
    RAM, drives, fans), through a power supply of ``psu_efficiency``."""
    _positive("device_w", device_w, allow_zero=True)
    _positive("host_w", host_w, allow_zero=True)
    if not 0 < psu_efficiency <= 1:
        raise ValueError(f"psu_efficiency must be in (0, 1], got {psu_efficiency!r}")
    return (device_w + host_w) / psu_efficiency


@dataclass(frozen=True)
class Request:
    """One request: the prompt tokens the model reads and the output tokens it writes."""

    prompt_tokens: int
    output_tokens: int

    def __post_init__(self):
        for name in ("prompt_tokens", "output_tokens"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < (1 if name == "output_tokens" else 0):
                raise ValueError(f"{name} must be a whole number of tokens (output at least 1), got {value!r}")


def api_usd_per_request(price: "ApiPrice", request: Request) -> float:
    """What the API bills for one request: prompt tokens at the input price, output at the output price."""
    return (request.prompt_tokens * price.input_usd_per_million
            + request.output_tokens * price.output_usd_per_million) / 1e6


def busy_seconds_per_request(request: Request, prompt_tokens_per_second: float,
                             aggregate_tokens_per_second: float) -> float:
    """Seconds of the machine one request takes: its prompt read alone, then its share of the decoding
    steps (``aggregate_tokens_per_second``: every batched request's tokens together)."""
    _positive("prompt_tokens_per_second", prompt_tokens_per_second)
    _positive("aggregate_tokens_per_second", aggregate_tokens_per_second)
    return request.prompt_tokens / prompt_tokens_per_second + request.output_tokens / aggregate_tokens_per_second


def energy_usd_per_request(busy_seconds: float, wall_w: float, electricity_usd_per_kwh: float) -> float:
    """Electricity for ``busy_seconds`` at ``wall_w`` watts."""
    _positive("busy_seconds", busy_seconds)
    return wall_w * busy_seconds / 3.6e6 * electricity_usd_per_kwh


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


@dataclass(frozen=True)
class RequestBreakEven:
    """Where owning meets the API, per request: requests a day, and the hours a day the machine is busy then."""

    requests_per_day: float  # inf when the electricity alone costs more than the API
    busy_hours_per_day: float


def request_break_even(price_usd: float, api_usd_each: float, busy_seconds: float, wall_w: float,
                       electricity_usd_per_kwh: float, years: float = 3.0) -> RequestBreakEven:
    """Requests a day above which owning a machine of ``price_usd`` is cheaper than an API billing
    ``api_usd_each`` per request, when each request keeps it busy ``busy_seconds`` at ``wall_w`` watts."""
    energy = energy_usd_per_request(busy_seconds, wall_w, electricity_usd_per_kwh)
    per_day = break_even_per_day(price_usd, api_usd_each, energy, years)
    return RequestBreakEven(per_day, per_day * busy_seconds / 3600)

