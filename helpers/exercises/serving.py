"""Checks for the exercises of notebook 14 (serve a model: the API, its load, a workshop's size)."""
from helpers.exercises import check_number
from helpers.serving.sizing import learners_served


def check_learners(answer, in_flight: int, first_token_s: float, reply_tokens: int, tokens_per_second: float,
                   think_s: float):
    """14 ex. 1: learners that ``in_flight`` concurrent requests serve (Little's law)."""
    right = learners_served(in_flight, first_token_s, reply_tokens, tokens_per_second, think_s)
    reply_s = first_token_s + reply_tokens / tokens_per_second
    return check_number(answer, right, rel_tol=0.03, unit="learners", mistakes=[
        (in_flight, "That is the number of requests in flight; each learner spends most of the time reading, not waiting."),
        (in_flight * think_s / reply_s, "A learner's cycle is the reply time plus the think time: (R + T) / R."),
        (in_flight * (reply_tokens / tokens_per_second + think_s) / (reply_tokens / tokens_per_second),
         "Count the time to first token in the reply time R."),
    ])


def check_tokens_per_slot(answer, ctx_size: int, parallel: int):
    """14 ex. 2: the context each conversation gets from llama-server --ctx-size and --parallel."""
    right = ctx_size // parallel
    return check_number(answer, right, rel_tol=0.0, unit="tokens", mistakes=[
        (ctx_size, "--ctx-size is the total KV cache; the slots split it between them."),
        (ctx_size * parallel, "The slots share one cache of --ctx-size tokens; they do not each get a full one."),
    ])


def check_request_speed(answer, first_token_s: float, total_s: float, tokens: int):
    """14 ex. 3: the generation speed a learner sees, tokens after the first per second after the first."""
    right = (tokens - 1) / (total_s - first_token_s)
    return check_number(answer, right, rel_tol=0.02, unit="tokens/s", mistakes=[
        (tokens / total_s, "That mixes in the wait for the first token; time the tokens after it."),
        (tokens / (total_s - first_token_s), "The first token arrived at the first-token time: count the tokens after it."),
    ])
