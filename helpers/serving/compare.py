"""Several servers side by side on the same prompts, measured in turns, in ``vllm bench serve``'s terms.

Speeds on a shared machine move from one moment to the next, so every round sends 1, 2, 4... clients
to each server in turn (a busy moment then hits every server alike), and the table gives each
column's median over the rounds with the output throughput's spread (slowest and fastest round).
Each client sends one streamed greedy chat request for a reply of a fixed length; the prompts cycle.

Two tools measure, with the same definitions (:mod:`helpers.serving.latency`) and the same columns:

* ``"vllm bench serve"``, vLLM's own benchmark (:mod:`helpers.serving.bench_serve`), where vLLM's
  environment exists and the server accepts its requests (llama-server and vLLM do);
* ``"run_clients"``, the course's threads (:func:`helpers.serving.load.run_clients`), everywhere else.
  llama-cpp-python's server is one: it answers HTTP 400 to any request whose ``x-request-id`` header is
  not a UUID, and ``vllm bench serve`` numbers its requests in that header.
"""
import statistics
import time
from contextlib import ExitStack, contextmanager

from helpers.serving.bench_serve import WORK_DIR, bench_row, bench_serve_args, run_bench_serve, write_prompts
from helpers.serving.client import chat_body
from helpers.serving.latency import DEFAULT_SLO, OUTPUT_THROUGHPUT, ServiceLevel, bench_summary
from helpers.serving.load import run_clients
from helpers.serving.server import ServerSettings, start_server
from helpers.serving.vllm_env import vllm_env_ready
from helpers.serving.vllm_weights import hf_model_dir, hf_tokenizer_dir, is_hf_folder

BENCH_SERVE_KINDS = ("llama-server", "vllm")  # the server kinds that accept vllm bench serve's requests
TOOLS = ("vllm bench serve", "run_clients")
SETTLE_S = 2.0  # pause before each server's turn: vLLM's CPU engine keeps a core busy ~1 s after its last reply


def tool_for(server, bench_serve: bool = True) -> str:
    """``"vllm bench serve"`` for a server that accepts it where vLLM's environment exists (and
    ``bench_serve`` is True), else ``"run_clients"``."""
    usable = bench_serve and vllm_env_ready() and server.settings.kind in BENCH_SERVE_KINDS
    return TOOLS[0] if usable else TOOLS[1]


def tokenizer_dir(server):
    """The folder of the server's model with its tokenizer: the Hugging Face folder vLLM serves, or
    the tokenizer read from a GGUF file (:func:`helpers.serving.vllm_weights.hf_tokenizer_dir`)."""
    path = server.settings.model_path
    return path if is_hf_folder(path) else hf_tokenizer_dir(path)


def request_bodies(prompts, model: str, clients: int, max_tokens: int) -> list:
    """One greedy chat body per client, cycling through ``prompts``; ``ignore_eos`` so every reply has
    ``max_tokens`` tokens and the servers do the same work."""
    prompts = list(prompts)
    if not prompts:
        raise ValueError("no prompts given")
    return [chat_body([{"role": "user", "content": prompts[i % len(prompts)]}], model, max_tokens=max_tokens,
                      temperature=0.0, ignore_eos=True) for i in range(clients)]


def measure_one(server, model: str, prompts, clients, max_tokens: int, level: ServiceLevel, tool: str) -> list:
    """One row of :func:`helpers.serving.latency.bench_summary`'s columns per count in ``clients``, measured
    by ``tool`` (one of :data:`TOOLS`)."""
    if tool not in TOOLS:
        raise ValueError(f"tool must be one of {TOOLS}, got {tool!r}")
    if tool == "vllm bench serve":
        prompts_path = write_prompts(prompts, WORK_DIR / "prompts.jsonl")
        runs = [bench_serve_args(server.base_url, model, tokenizer_dir(server), prompts_path, n, max_tokens, level)
                for n in clients]
        return [bench_row(result, level) for result in run_bench_serve(runs)]
    results = [run_clients(server.base_url, request_bodies(prompts, model, n, max_tokens)) for n in clients]
    return [bench_summary(result.timings, result.wall_s, level) for result in results]


def measure_in_turns(servers: dict, model: str, prompts, clients, max_tokens: int, rounds: int,
                     level: ServiceLevel = DEFAULT_SLO, bench_serve: bool = True, settle_s: float = SETTLE_S) -> list:
    """Rows of :func:`helpers.serving.latency.bench_summary`'s columns with "server", "clients" and
    "round", for every server in ``servers`` ({name: running server}) at every count in ``clients``,
    ``rounds`` times in turns, each measured by :func:`tool_for`. One short warm-up request per server
    comes first (the first requests after a start are slower), and each server's turn starts
    ``settle_s`` seconds after the previous one ended, so that no server still works in the next one's."""
    if not isinstance(rounds, int) or rounds < 1:
        raise ValueError(f"rounds must be a whole number >= 1, got {rounds!r}")
    if not settle_s >= 0:
        raise ValueError(f"settle_s must be a number of seconds >= 0, got {settle_s!r}")
    for server in servers.values():
        run_clients(server.base_url, request_bodies(prompts, model, 1, 4))
    rows = []
    for round_number in range(rounds):
        for name, server in servers.items():
            time.sleep(settle_s)
            summaries = measure_one(server, model, prompts, clients, max_tokens, level, tool_for(server, bench_serve))
            rows += [{"server": name, "clients": n, "round": round_number, **summary}
                     for n, summary in zip(clients, summaries)]
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


def vllm_settings(model_path, alias: str, **changes) -> ServerSettings:
    """vLLM on ``model_path``'s weights converted to a Hugging Face folder, ``--enforce-eager`` (ready in
    about half a minute on 2 cores instead of two), 2,048 tokens per request; ``changes`` override."""
    settings = {"kind": "vllm", "model_alias": alias, "n_ctx": 2048, "extra_args": ("--enforce-eager",), **changes}
    return ServerSettings(hf_model_dir(model_path), **settings)


@contextmanager
def side_by_side_servers(model_path, alias: str, threads: int, slots: int, with_vllm: bool):
    """Start the servers of the comparison on ``model_path``; yield {name: server}; stop them all.

    llama-cpp-python's server (one request at a time, 2,048 tokens), llama-server with ``slots``
    parallel slots of 512 tokens each (continuous batching), both with ``threads`` threads, and vLLM
    (:func:`vllm_settings`) when ``with_vllm``."""
    with ExitStack() as stack:
        servers = {"llama-cpp-python": stack.enter_context(start_server(
                       ServerSettings(model_path, model_alias=alias, n_ctx=2048, n_threads=threads))),
                   f"llama-server -np {slots}": stack.enter_context(start_server(
                       ServerSettings(model_path, kind="llama-server", model_alias=alias, n_ctx=512 * slots,
                                      n_threads=threads, parallel=slots)))}
        if with_vllm:
            servers["vLLM"] = stack.enter_context(start_server(vllm_settings(model_path, alias)))
        yield servers
