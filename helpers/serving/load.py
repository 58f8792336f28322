"""Many learners at once: concurrent streamed requests against one server, timed.

Each client is a thread that sends one streamed chat request and records, in seconds from its
own start, when the first piece of text arrived (time to first token, TTFT) and when the reply
ended, and the arrival time of every piece of text (for the inter-token latency of
:mod:`helpers.serving.latency`). Tokens are the streamed pieces that carry text (both servers here
send one token per piece). All clients start together (a barrier), so ``clients`` requests are in
flight at once.
"""
import statistics
import threading
import time
from dataclasses import dataclass

from helpers.serving.client import stream_pieces

MAX_CLIENTS = 16  # a loopback rehearsal, not a stress test: bounded in count...
MAX_SECONDS = 300.0  # ...and in time (per request)


@dataclass(frozen=True)
class RequestTiming:
    """One client's request. Times in seconds from the client's start."""

    client: int
    first_token_s: float
    total_s: float
    tokens: int
    text: str
    piece_s: tuple = ()  # arrival time of each text piece, seconds from the client's start (empty: not recorded)

    @property
    def generation_tokens_per_second(self) -> float:
        """Tokens after the first, per second after the first arrived: the speed this learner reads at."""
        if self.tokens < 2 or self.total_s <= self.first_token_s:
            return float("nan")
        return (self.tokens - 1) / (self.total_s - self.first_token_s)


@dataclass(frozen=True)
class LoadResult:
    """All clients of one run. ``wall_s``: from the common start to the last reply's end."""

    timings: tuple
    wall_s: float

    @property
    def clients(self) -> int:
        return len(self.timings)

    @property
    def aggregate_tokens_per_second(self) -> float:
        """Tokens all clients received, per second of the whole run: what the server delivers."""
        return sum(t.tokens for t in self.timings) / self.wall_s

    @property
    def median_first_token_s(self) -> float:
        return statistics.median(t.first_token_s for t in self.timings)

    @property
    def worst_first_token_s(self) -> float:
        return max(t.first_token_s for t in self.timings)

    @property
    def median_request_tokens_per_second(self) -> float:
        return statistics.median(t.generation_tokens_per_second for t in self.timings)

    def row(self) -> dict:
        """The run as one table row (seconds and tokens/s)."""
        return {"clients": self.clients, "median TTFT (s)": self.median_first_token_s,
                "worst TTFT (s)": self.worst_first_token_s,
                "per request (tokens/s)": self.median_request_tokens_per_second,
                "aggregate (tokens/s)": self.aggregate_tokens_per_second, "wall (s)": self.wall_s}


def _timed_request(base_url: str, body: dict, client: int, start: threading.Barrier, timeout_s: float) -> RequestTiming:
    start.wait()
    began = time.perf_counter()
    pieces, arrivals = [], []
    for piece in stream_pieces(base_url, body, timeout_s):
        if piece.text:
            arrivals.append(time.perf_counter() - began)
            pieces.append(piece.text)
    total = time.perf_counter() - began
    first = arrivals[0] if arrivals else total
    return RequestTiming(client, first, total, len(pieces), "".join(pieces), tuple(arrivals))


def run_clients(base_url: str, bodies, timeout_s: float = MAX_SECONDS) -> LoadResult:
    """Send ``bodies`` (one request body per client) all at once; wait for every reply.

    A client's error is raised here after all threads have finished, so no thread is left behind.
    """
    bodies = list(bodies)
    if not 1 <= len(bodies) <= MAX_CLIENTS:
        raise ValueError(f"between 1 and {MAX_CLIENTS} clients, got {len(bodies)}")
    if not 0 < timeout_s <= MAX_SECONDS:
        raise ValueError(f"timeout_s must be in (0, {MAX_SECONDS:.0f}] seconds, got {timeout_s!r}")
    barrier = threading.Barrier(len(bodies) + 1)
    results: list = [None] * len(bodies)

    def work(i: int) -> None:
        try:
            results[i] = _timed_request(base_url, bodies[i], i, barrier, timeout_s)
        except BaseException as err:  # handed to the caller below
            results[i] = err

    threads = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(len(bodies))]
    for thread in threads:
        thread.start()
    barrier.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - began
    for outcome in results:
        if isinstance(outcome, BaseException):
            raise outcome
    return LoadResult(tuple(results), wall)


def median_rows(rounds) -> list:
    """One row per concurrency, each measured column the median over repeated ``rounds``.

    ``rounds``: lists of :meth:`LoadResult.row` dicts, every round with the same concurrencies in the
    same order (run the rounds in turns, so that a busy moment of the machine hits every setting alike).
    Each row also gets "aggregate spread (tokens/s)": the slowest and fastest round's aggregate.
    """
    rounds = [list(r) for r in rounds]
    if not rounds or not rounds[0]:
        raise ValueError("no rounds given: measure at least one round of at least one concurrency")
    concurrencies = [row["clients"] for row in rounds[0]]
    for i, r in enumerate(rounds):
        if [row["clients"] for row in r] != concurrencies:
            raise ValueError(f"round {i} measured clients {[row['clients'] for row in r]}, "
                             f"round 0 measured {concurrencies}: every round must measure the same ones")
    rows = []
    for j, clients in enumerate(concurrencies):
        same = [r[j] for r in rounds]
        row = {"clients": clients}
        row.update({key: statistics.median(s[key] for s in same) for key in same[0] if key != "clients"})
        aggregates = [s["aggregate (tokens/s)"] for s in same]
        row["aggregate spread (tokens/s)"] = f"{min(aggregates):.0f} to {max(aggregates):.0f}"
        rows.append(row)
    return rows
