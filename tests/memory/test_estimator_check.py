"""The estimator against llama.cpp itself, for reduced configurations of the newer families.

Each family's random-weight GGUF is written, quantized by llama.cpp and loaded by llama-cpp-python:
the file must be predicted byte for byte, the KV cache exactly (window only and swa_full) and the
compute buffer within 5%.
"""
import pytest

from helpers.gguf.header import open_checked
from helpers.memory.estimator_check import REDUCED, REDUCED_QUANT, check_family, reduced_model

pytest.importorskip("llama_cpp")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("reduced")


@pytest.mark.parametrize("family", sorted(REDUCED))
def test_family_against_llama_cpp(family, folder):
    rows = {r["what"]: r for r in check_family(family, folder, context=4096)}
    assert rows["tensors of another type (count)"]["llama.cpp (bytes)"] == 0
    for exact in ("tensor data", "file", "KV cache (window only)", "KV cache (swa_full)"):
        assert rows[exact]["estimated (bytes)"] == rows[exact]["llama.cpp (bytes)"], (family, exact)
    for label in ("window only", "swa_full"):
        row = rows[f"compute buffer ({label})"]
        assert row["estimated (bytes)"] == pytest.approx(row["llama.cpp (bytes)"], rel=0.05), (family, label)


def test_window_only_cache_is_smaller_for_sliding_window_families(folder):
    for family in ("gemma3", "gpt-oss"):
        rows = {r["what"]: r["llama.cpp (bytes)"] for r in check_family(family, folder, context=4096)}
        assert rows["KV cache (window only)"] < rows["KV cache (swa_full)"]


def test_gpt_oss_file_keeps_its_experts_in_mxfp4(folder):
    assert REDUCED_QUANT["gpt-oss"] == "MXFP4_MOE"
    types = {t.name: t.tensor_type.name for t in open_checked(reduced_model("gpt-oss", folder)).tensors}
    assert types["blk.0.ffn_up_exps.weight"] == "MXFP4" and types["blk.0.attn_q.weight"] == "Q8_0"


def test_unknown_family_is_refused(folder):
    with pytest.raises(ValueError, match="family must be one of"):
        reduced_model("mamba", folder)


def test_published_gpu_logs_kv_to_the_mib_and_compute_within_a_sixth():
    """The estimate beside load logs people published from CUDA, Metal and Vulkan (data/published_buffers.csv)."""
    from helpers.memory.estimator_check import check_published_buffers, load_published_buffers

    logs = load_published_buffers()
    assert len(logs) >= 15 and {log.backend for log in logs} >= {"CUDA", "Metal", "Vulkan"}
    rows = check_published_buffers(logs)
    kv = [r for r in rows if r["KV published (MiB)"] is not None and r["n_ctx"] % 256 == 0]
    assert len(kv) >= 12 and all(abs(r["KV error (%)"]) <= 0.3 for r in kv)
    compute = sorted(abs(r["compute error (%)"]) for r in rows if r["compute published (MiB)"] is not None)
    assert compute[len(compute) // 2] < 10  # median; logs from 2023 builds allocated differently and miss by more
    moe = [r for r in rows if r["model"].startswith("gpt-oss") and r["compute published (MiB)"] is not None]
    assert moe and all(abs(r["compute error (%)"]) < 10 for r in moe)


def test_a_published_log_without_a_source_or_size_is_refused(tmp_path):
    from helpers.memory.estimator_check import PUBLISHED_BUFFERS_CSV, load_published_buffers

    header, first = PUBLISHED_BUFFERS_CSV.read_text().splitlines()[:2]
    (tmp_path / "b.csv").write_text(header + "\n" + first.replace("https://", "see ") + "\n")
    with pytest.raises(ValueError, match="line 2"):
        load_published_buffers(tmp_path / "b.csv")
