"""Checks for the exercises of notebook 20 (serve many users: TPOT, goodput, speculative decoding)."""
from helpers.exercises import check_number
from helpers.serving.latency import time_per_output_token
from helpers.serving.speculative import break_even_alpha


def check_tpot(answer, first_token_s: float, total_s: float, tokens: int):
    """20 ex. 1: time per output token after the first, in milliseconds."""
    right = 1000 * time_per_output_token(first_token_s, total_s, tokens)
    return check_number(answer, right, rel_tol=0.02, unit="ms", mistakes=[
        (1000 * total_s / tokens, "TPOT leaves out the wait for the first token: time only what came after it."),
        (1000 * (total_s - first_token_s) / tokens, "After the first token come tokens - 1 more: divide by that."),
        (time_per_output_token(first_token_s, total_s, tokens), "That is in seconds; the question asks for milliseconds."),
    ])


def check_goodput(answer, requests, wall_s: float, ttft_limit_s: float, tpot_limit_ms: float):
    """20 ex. 2: requests per second meeting both limits; ``requests`` as (TTFT s, TPOT ms) pairs."""
    good = sum(ttft <= ttft_limit_s and tpot <= tpot_limit_ms for ttft, tpot in requests)
    return check_number(answer, good / wall_s, rel_tol=0.01, unit="requests/s", mistakes=[
        (len(requests) / wall_s, "That is the request throughput: goodput counts only requests within both limits."),
        (sum(ttft <= ttft_limit_s for ttft, _ in requests) / wall_s, "A good request must also meet the TPOT limit."),
        (sum(tpot <= tpot_limit_ms for _, tpot in requests) / wall_s, "A good request must also meet the TTFT limit."),
        (good, "Goodput is a rate: divide the good requests by the run's seconds."),
    ])


def check_break_even(answer, k: int, draft_cost: float):
    """20 ex. 3: the acceptance probability at which speculation is as fast as plain decoding."""
    right = break_even_alpha(k, draft_cost)
    return check_number(answer, right, rel_tol=0.03, mistakes=[
        (break_even_alpha(k, 0.0), "That leaves out the draft's cost: each step also pays k draft tokens."),
        (draft_cost, "The break-even is where (1 - a^(k+1)) / (1 - a) equals 1 + k c; solve it for a."),
    ])
