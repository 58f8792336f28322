"""What a split model sends per token: layer split, tensor parallel, the engines' command lines."""
import pytest

from helpers.course.catalog import get_model
from helpers.hardware.distributed import (
    Link,
    Traffic,
    layer_split_traffic,
    llama_cpp_rpc_command,
    load_interconnects,
    tensor_parallel_traffic,
    vllm_command,
)

LLAMA_70B = get_model("Llama 3.1 70B").architecture  # 80 layers, hidden 8192


def test_a_layer_split_sends_the_hidden_state_once_per_boundary():
    llama_cpp = layer_split_traffic(LLAMA_70B, 3)  # F32, two boundaries
    assert llama_cpp == Traffic(2 * 8192 * 4, 2)
    vllm = layer_split_traffic(LLAMA_70B, 2, bytes_per_value=2, tensors_per_boundary=2)  # hidden + residual, bf16
    assert vllm == Traffic(2 * 8192 * 2, 1)


def test_tensor_parallel_sends_two_all_reduces_per_layer():
    two = tensor_parallel_traffic(LLAMA_70B, 2)
    assert two.messages_per_token == 160 and two.bytes_per_token == 160 * 1 * 8192 * 2
    eight = tensor_parallel_traffic(LLAMA_70B, 8)
    assert eight.bytes_per_token == pytest.approx(160 * 2 * 7 / 8 * 8192 * 2)


def test_link_time_is_bytes_over_bandwidth_plus_latency_per_message():
    link = Link("test", 1.0, "x", "https://x")  # 1 GB/s
    assert Traffic(1e6, 10).seconds_per_token(link, 50e-6) == pytest.approx(1e-3 + 10 * 50e-6)
    with pytest.raises(ValueError, match="latency_s must be >= 0"):
        Traffic(1, 1).seconds_per_token(link, -1)


def test_bad_splits_are_refused():
    with pytest.raises(ValueError, match="at least 2 devices, got 1"):
        tensor_parallel_traffic(LLAMA_70B, 1)
    with pytest.raises(ValueError, match="at least one worker"):
        llama_cpp_rpc_command("m.gguf", [])


def test_interconnects_are_sourced_and_ordered_by_what_they_are():
    links = load_interconnects()
    assert links["PCIe 4.0 x16"].gb_per_s == 31.5 and links["10 Gigabit Ethernet"].gb_per_s == 1.25
    assert all(link.source.startswith("https://") for link in links.values())


def test_a_bad_interconnect_row_is_refused(tmp_path):
    bad = tmp_path / "links.csv"
    bad.write_text("name,gb_per_s,scope,note,source\nX,fast,a,b,https://x\n")
    with pytest.raises(ValueError, match="line 2: needs a positive gb_per_s"):
        load_interconnects(bad)


def test_command_lines_follow_the_engines_documentation():
    assert vllm_command("meta-llama/Llama-3.1-70B-Instruct", 4) == [
        "vllm serve meta-llama/Llama-3.1-70B-Instruct --tensor-parallel-size 4"]
    multi = vllm_command("m", 8, nodes=2)
    assert "ray start --head --port=6379" in multi and multi[-1].endswith(
        "--tensor-parallel-size 8 --pipeline-parallel-size 2 --distributed-executor-backend ray")
    rpc = llama_cpp_rpc_command("m.gguf", ["192.168.1.10:50052", "192.168.1.11:50052"])
    assert "rpc-server -H 192.168.1.10 -p 50052 -c" in rpc
    assert rpc[-1] == "llama-server -m m.gguf -ngl 99 --rpc 192.168.1.10:50052,192.168.1.11:50052"
