"""Beyond one machine: what each way of splitting a model sends over the link for every generated token.

Three splits, as the engines run them:

* **Layer split** (llama.cpp ``--split-mode layer`` across GPUs, llama.cpp's RPC backend across machines,
  vLLM's ``--pipeline-parallel-size``): each device holds a run of whole layers; at every boundary the
  token's hidden state crosses once. llama.cpp sends it in F32 (4 bytes a value); vLLM's pipeline stages
  pass the hidden state and the residual stream in the model's 16-bit type (two tensors of 2 bytes a
  value). The devices take turns, so a layer split adds memory, not speed, for one stream.
* **Tensor parallel** (vLLM ``--tensor-parallel-size N``, llama.cpp ``--split-mode row``): every matrix is
  cut in N, every device reads its share at the same time, and after the attention and after the
  feed-forward block of every layer the partial results are summed across devices (an all-reduce). A
  ring all-reduce has each device send 2 (N - 1) / N of the hidden state, so a token sends
  2 x layers x 2 (N - 1) / N x hidden x 2 bytes per device, in 2 x layers messages.

Per token, a link costs bytes / bandwidth plus one latency per message: the latency is given, not
looked up, because it depends on the network stack (a few microseconds inside a server, tens over a LAN).
Sizes in bytes, bandwidth in GB/s (10**9 bytes/s, one direction), times in seconds.
"""
import csv
from dataclasses import dataclass

from helpers.course.paths import DATA_DIR
from helpers.memory.architecture import Architecture

INTERCONNECTS_CSV = DATA_DIR / "interconnects.csv"
LLAMA_CPP_ACTIVATION_BYTES = 4  # llama.cpp's hidden state between devices: F32
VLLM_ACTIVATION_BYTES = 2  # vLLM's hidden state and residual: the model's bf16 / fp16


@dataclass(frozen=True)
class Link:
    """A connection between devices: its bandwidth one way (GB/s) and where the figure comes from."""

    name: str
    gb_per_s: float
    scope: str
    source: str


def load_interconnects(path=INTERCONNECTS_CSV) -> dict:
    """``data/interconnects.csv`` as {name: Link}; a row without a positive bandwidth or an https source is refused."""
    links = {}
    with open(path, newline="", encoding="utf-8") as handle:
        for number, row in enumerate(csv.DictReader(handle), start=2):
            try:
                rate = float(row["gb_per_s"])
            except ValueError:
                rate = 0.0
            if not rate > 0 or not row["source"].startswith("https://"):
                raise ValueError(f"{path.name} line {number}: needs a positive gb_per_s and an https source, "
                                 f"got {row['gb_per_s']!r} and {row['source']!r}")
            links[row["name"]] = Link(row["name"], rate, row["scope"], row["source"])
    return links


@dataclass(frozen=True)
class Traffic:
    """What one generated token sends over the links: bytes (per device, the busiest) and messages."""

    bytes_per_token: float
    messages_per_token: int

    def seconds_per_token(self, link: Link, latency_s: float) -> float:
        """Time on ``link``: the bytes at its bandwidth plus ``latency_s`` for every message."""
        if latency_s < 0:
            raise ValueError(f"latency_s must be >= 0, got {latency_s!r}")
        return self.bytes_per_token / (link.gb_per_s * 1e9) + self.messages_per_token * latency_s


def layer_split_traffic(arch: Architecture, devices: int, bytes_per_value: int = LLAMA_CPP_ACTIVATION_BYTES,
                        tensors_per_boundary: int = 1) -> Traffic:
    """A layer split over ``devices``: ``devices - 1`` boundaries, the hidden state crossing each once."""
    _check_devices(devices)
    boundaries = devices - 1
    return Traffic(boundaries * tensors_per_boundary * arch.hidden * bytes_per_value, boundaries)


def tensor_parallel_traffic(arch: Architecture, devices: int, bytes_per_value: int = VLLM_ACTIVATION_BYTES) -> Traffic:
    """Tensor parallel over ``devices``: two ring all-reduces of the hidden state per layer."""
    _check_devices(devices)
    per_all_reduce = 2 * (devices - 1) / devices * arch.hidden * bytes_per_value
    return Traffic(2 * arch.n_layers * per_all_reduce, 2 * arch.n_layers)


def _check_devices(devices: int) -> None:
    if isinstance(devices, bool) or not isinstance(devices, int) or devices < 2:
        raise ValueError(f"a split needs at least 2 devices, got {devices!r}")


def vllm_command(model: str, gpus_per_node: int, nodes: int = 1) -> list:
    """The command lines that serve ``model`` with vLLM over ``nodes`` machines of ``gpus_per_node`` GPUs each:
    tensor parallel inside a machine, pipeline parallel across machines, Ray joining the machines."""
    if gpus_per_node < 1 or nodes < 1:
        raise ValueError(f"gpus_per_node and nodes must be >= 1, got {gpus_per_node!r} and {nodes!r}")
    serve = f"vllm serve {model} --tensor-parallel-size {gpus_per_node}"
    if nodes == 1:
        return [serve]
    return ["# on the first machine (the head):", "ray start --head --port=6379",
            "# on each of the other machines:", "ray start --address=HEAD_IP:6379",
            "# then, on the head:",
            f"{serve} --pipeline-parallel-size {nodes} --distributed-executor-backend ray"]


def llama_cpp_rpc_command(model_file: str, workers) -> list:
    """The command lines that spread ``model_file`` over llama.cpp ``rpc-server`` workers (host:port each);
    every machine needs a llama.cpp build with ``-DGGML_RPC=ON``."""
    workers = list(workers)
    if not workers:
        raise ValueError("give at least one worker as host:port")
    lines = ["# on each worker machine (its GPUs exposed; -c caches the weights it receives):"]
    lines += [f"rpc-server -H {w.rsplit(':', 1)[0]} -p {w.rsplit(':', 1)[1]} -c" for w in workers]
    lines += ["# on the main machine:", f"llama-server -m {model_file} -ngl 99 --rpc {','.join(workers)}"]
    return lines
