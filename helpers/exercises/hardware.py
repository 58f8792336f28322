"""Checks for the exercises of notebook 12 (choosing hardware)."""
from helpers.exercises import check_choice, check_number


def check_fastest_in_budget(answer, expected: str, allowed):
    """12 ex. 1: the fastest device within the budget that fits the model entirely."""
    allowed = tuple(allowed)
    return check_choice(answer, expected, allowed=allowed, hints={
        name: f"{name} is in the list, but another device within the budget is faster: sort by tokens/s."
        for name in allowed if name != expected})


def check_tokens_per_dollar(answer, tokens_per_second: float, price_usd: float):
    """12 ex. 2: tokens/s per $1000 of hardware."""
    right = tokens_per_second / price_usd * 1000
    return check_number(answer, right, rel_tol=0.02, unit="tokens/s per $1000", mistakes=[
        (tokens_per_second / price_usd, "That is per dollar; the table counts per $1000."),
        (price_usd / tokens_per_second, "Upside down: divide the speed by the price."),
    ])
