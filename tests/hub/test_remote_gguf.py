"""A GGUF header read from a (fake) hub by range requests: a sliver of the file travels, and the plan
built from it is the plan of the same file read locally."""
import json
import socket

import pytest

from helpers.course.catalog import get_gpu, get_model
from helpers.gguf.header import read_header
from helpers.gguf.random_weights import write_random_gguf
from helpers.hub.ranges import HubFile, RangesIgnoredError, resolve_url
from helpers.hub.remote_gguf import read_hub_header, read_remote_header
from helpers.memory.architecture import Architecture
from helpers.memory.vram import FIT_MARGIN_BYTES
from helpers.memory.willitrun import assess_file, main

REPO = "course/smollm2-random-GGUF"
NAME = "smollm2-135m-random-f16.gguf"
TINY = Architecture("tiny", 2, 64, 128, 4, 4, 16, 320)


@pytest.fixture(scope="module")
def big_gguf(tmp_path_factory):
    """SmolLM2-135M's shapes with random F16 weights: 270 MB, a 1.2 MB header (49,152-token vocabulary)."""
    path = tmp_path_factory.mktemp("big") / NAME
    return write_random_gguf(get_model("SmolLM2 135M").architecture, path, context=2048)


@pytest.fixture(scope="module")
def big_remote(module_hub, big_gguf):
    """The big file's header read once from the fake hub (parsing a 49k-token vocabulary takes seconds)."""
    module_hub.add(REPO, NAME, big_gguf)
    sent_before = module_hub.bytes_sent
    remote = read_hub_header(HubFile(REPO, NAME), endpoint=module_hub.url)
    return remote, module_hub.bytes_sent - sent_before


@pytest.fixture
def tiny_gguf(tmp_path):
    return write_random_gguf(TINY, tmp_path / "tiny.gguf")


def test_header_of_a_large_file_costs_under_one_percent_and_equals_the_local_header(big_remote, big_gguf):
    remote, bytes_sent = big_remote
    size = big_gguf.stat().st_size
    assert size >= 100 * 10**6
    assert remote.header == read_header(big_gguf)
    assert remote.header_bytes > 2**20  # needed a second read: the growing path is exercised
    assert remote.bytes_received == bytes_sent < 0.01 * size
    assert remote.requests == 2 and remote.share_transferred < 0.01


@pytest.mark.parametrize("gpu, context", [("RTX 3060 12GB", 2048), ("RTX 3060 12GB", 512), (None, 1024)])
def test_remote_plan_equals_the_local_plan(big_remote, big_gguf, gpu, context):
    remote, _ = big_remote
    card = get_gpu(gpu) if gpu else None
    budget = None if card else 0
    local = assess_file(read_header(big_gguf), context, gpu=card, gpu_budget_bytes=budget)
    assert assess_file(remote.header, context, gpu=card, gpu_budget_bytes=budget) == local
    assert local.file_bytes == big_gguf.stat().st_size and local.quant == "F16"


def test_file_plan_weights_are_the_files_tensor_bytes(big_gguf):
    header = read_header(big_gguf)
    all_gpu = assess_file(header, 2048, gpu_budget_bytes=80 * 2**30).verdict.plan
    cpu = assess_file(header, 2048, gpu_budget_bytes=0).verdict.plan
    assert cpu.weights_cpu == header.tensor_bytes and cpu.weights_gpu == 0 and cpu.overhead_gpu == 0
    # tied embeddings: the GPU holds a copy for the output layer, the lookup table stays in RAM
    assert all_gpu.weights_cpu == header.embedding_bytes
    assert all_gpu.weights_gpu == header.tensor_bytes
    half = assess_file(header, 2048, gpu_budget_bytes=80 * 2**30, n_gpu_layers=15).verdict.plan
    assert half.weights_gpu == sum(header.layer_bytes[15:]) and half.layers_on_gpu == 15
    auto = assess_file(header, 2048, gpu_budget_bytes=half.gpu_total + FIT_MARGIN_BYTES, n_gpu_layers="auto").verdict
    assert auto.fits and auto.plan.layers_on_gpu == 15


def test_cli_plans_a_hub_file_like_the_local_file_and_reports_bytes(module_hub, tiny_gguf, capsys):
    module_hub.add(REPO, "tiny.gguf", tiny_gguf)
    argv = ["--gpu", "RTX 3060 12GB", "--ctx", "256"]
    assert main(["--gguf", str(tiny_gguf), *argv]) == 0
    local = capsys.readouterr().out
    assert main(["--hf", f"{REPO}:tiny.gguf@main", "--endpoint", module_hub.url, *argv]) == 0
    remote = capsys.readouterr().out
    assert "YES" in local and remote.startswith(local.rstrip("\n"))
    assert "header read" in remote and "1 range requests" in remote


def test_small_file_parses_from_its_first_read(fake_hub, tiny_gguf):
    fake_hub.add(REPO, "tiny.gguf", tiny_gguf)
    remote = read_hub_header(HubFile(REPO, "tiny.gguf"))
    assert remote.requests == 1 and remote.header == read_header(tiny_gguf)


def test_a_tiny_first_read_grows_until_the_header_parses(fake_hub, tiny_gguf):
    fake_hub.add(REPO, "tiny.gguf", tiny_gguf)
    remote = read_hub_header(HubFile(REPO, "tiny.gguf"), first_read_bytes=64)
    assert remote.header == read_header(tiny_gguf) and remote.requests > 3
    assert remote.bytes_received < 2 * remote.header_bytes


def test_cli_json_has_bytes_transferred(fake_hub, tiny_gguf, capsys):
    fake_hub.add(REPO, "tiny.gguf", tiny_gguf)
    assert main(["--url", resolve_url(HubFile(REPO, "tiny.gguf")), "--vram-gb", "1", "--ctx", "256", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["bytes_transferred"] == fake_hub.bytes_sent and out["requests"] == 1 and out["fits"] is True


def test_not_a_gguf_is_refused(fake_hub, tmp_path):
    path = tmp_path / "model.gguf"
    path.write_bytes(b"PK\x03\x04" + bytes(100))
    fake_hub.add(REPO, "model.gguf", path)
    with pytest.raises(ValueError, match="not a GGUF file"):
        read_hub_header(HubFile(REPO, "model.gguf"))


def test_server_ignoring_ranges_is_refused_before_the_body_is_read(fake_hub, big_gguf):
    fake_hub.add(REPO, NAME, big_gguf)
    fake_hub.ignore_ranges = True
    with pytest.raises(RangesIgnoredError, match="ignored the Range header"):
        read_remote_header(resolve_url(HubFile(REPO, NAME)))


def test_cli_says_offline_in_one_line(capsys):
    with socket.socket() as probe:  # a port nobody listens on once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(SystemExit) as stop:
        main(["--hf", f"{REPO}:{NAME}", "--endpoint", f"http://127.0.0.1:{port}", "--gpu", "RTX 3060 12GB"])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and "cannot reach" in err and "offline?" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_cli_refuses_a_file_and_a_model_together(tiny_gguf):
    with pytest.raises(SystemExit):
        main(["--gguf", str(tiny_gguf), "--model", "Llama 3.2 1B", "--gpu", "RTX 3060 12GB"])
