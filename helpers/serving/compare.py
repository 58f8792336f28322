"""Several servers side by side on the same prompts, measured in turns, in ``vllm bench serve``'s terms.

Speeds on a shared machine move from one moment to the next, so every round sends 1, 2, 4... clients
to each server in turn (a busy moment then hits every server alike), and the table gives each
column's median over the rounds with the output throughput's spread (slowest and fastest round).
Each client sends one streamed chat request; client ``i`` asks ``prompts[i % len(prompts)]``.
"""
import statistics

from helpers.serving.client import chat_body
from helpers.serving.latency import DEFAULT_SLO, ServiceLevel, bench_summary
from helpers.serving.load import run_clients

OUTPUT_THROUGHPUT = "output throughput (tokens/s)"


def request_bodies(prompts, model: str, clients: int, max_tokens: int) -> list:
    """One greedy chat body per client, cycling through ``prompts``; ``ignore_eos`` so every reply has
    ``max_tokens`` tokens and the servers do the same work."""
    prompts = list(prompts)
    if not prompts:
        raise ValueError("no prompts given")
    return [chat_body([{"role": "user", "content": prompts[i % len(prompts)]}], model, max_tokens=max_tokens,
                      temperature=0.0, ignore_eos=True) for i in range(clients)]


def measure_in_turns(urls: dict, model: str, prompts, clients, max_tokens: int, rounds: int,
                     level: ServiceLevel = DEFAULT_SLO) -> list:
    """Rows of :func:`helpers.serving.latency.bench_summary` with "server", "clients" and "round", for
    every server in ``urls`` ({name: base URL}) at every count in ``clients``, ``rounds`` times in turns.
    One short warm-up request per server comes first (the first requests after a start are slower)."""
    if not isinstance(rounds, int) or rounds < 1:
        raise ValueError(f"rounds must be a whole number >= 1, got {rounds!r}")
    for url in urls.values():
        run_clients(url, request_bodies(prompts, model, 1, 4))
    rows = []
    for round_number in range(rounds):
        for name, url in urls.items():
            for n in clients:
                result = run_clients(url, request_bodies(prompts, model, n, max_tokens))
                rows.append({"server": name, "clients": n, "round": round_number,
                             **bench_summary(result.timings, result.wall_s, level)})
    return rows


def median_over_rounds(rows) -> list:
    """One row per (server, clients): each number the median over the rounds, plus
    "output throughput spread (tokens/s)": the slowest and the fastest round."""
    groups: dict = {}
    for row in rows:
        groups.setdefault((row["server"], row["clients"]), []).append(row)
    out = []
    for (server, clients), same in groups.items():
        row = {"server": server, "clients": clients}
        row.update({key: statistics.median(s[key] for s in same) for key in same[0]
                    if key not in ("server", "clients", "round")})
        speeds = [s[OUTPUT_THROUGHPUT] for s in same]
        row["output throughput spread (tokens/s)"] = f"{min(speeds):.0f} to {max(speeds):.0f}"
        out.append(row)
    return out
