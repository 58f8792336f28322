"""llama-bench from Python: a real CPU run parsed, turned into rows of the record, appended whole or not at all."""
import shutil
from pathlib import Path

import pytest

from helpers.course.llama_tools import llama_tool
from helpers.hardware.llama_bench import append_rows, backend_of, parse_llama_bench_json, run_llama_bench, speed_rows
from helpers.hardware.published_speeds import PUBLISHED_SPEEDS_CSV, load_published_speeds
from helpers.llm.chat_model import chat_model_path

SOURCE = "benchmarks/results/device_speed_fit.md"  # any results file of the repository will do as a source here


def llama_bench_binary() -> Path:
    return llama_tool("llama-bench")


@pytest.mark.slow
def test_a_real_cpu_run_becomes_checked_rows(tmp_path):
    results = run_llama_bench(llama_bench_binary(), chat_model_path(), prompt_tokens=(16,), generated_tokens=(4,),
                              n_gpu_layers=0, flash_attention=False, repetitions=1, threads=1)
    assert [r.test for r in results] == ["pp16", "tg4"]
    assert all(r.tokens_per_second > 0 and r.backend == "CPU" and r.flash_attn == "0" for r in results)
    rows = speed_rows(results, "CPU desktop DDR5-5600 dual-channel", "SmolLM2 135M", "Q4_1", SOURCE)
    copy = tmp_path / "speeds.csv"
    shutil.copy(PUBLISHED_SPEEDS_CSV, copy)
    before = len(load_published_speeds(copy))
    append_rows(rows, copy)
    after = load_published_speeds(copy)
    assert len(after) == before + 2 and after[-1].test == "tg4" and after[-1].n_gpu_layers == "0"
    assert after[-1].source == SOURCE and after[-1].tokens_per_second == round(results[-1].tokens_per_second, 2)


def test_a_bad_row_leaves_the_file_as_it_was(tmp_path):
    copy = tmp_path / "speeds.csv"
    shutil.copy(PUBLISHED_SPEEDS_CSV, copy)
    text = copy.read_text()
    row = {"device": "RTX 9999", "model": "SmolLM2 135M", "mix": "Q4_1", "test": "tg4", "depth": "0",
           "tokens_per_second": "10", "backend": "CUDA", "build": "x", "flash_attn": "1", "n_gpu_layers": "all",
           "date": "2026-12", "source": SOURCE, "note": "", "not_fitted_because": ""}
    with pytest.raises(ValueError, match="RTX 9999"):
        append_rows([row], copy)
    assert copy.read_text() == text and not list(tmp_path.glob("*.check"))


def test_json_fields_are_read_as_the_record_names_them():
    text = ('[{"build_commit": "abc", "build_number": 7, "backends": "Metal,BLAS", "n_prompt": 0, "n_gen": 128, '
            '"n_depth": 4096, "avg_ts": 50.5, "stddev_ts": 0.2, "flash_attn": -1, "n_gpu_layers": 99}]')
    (result,) = parse_llama_bench_json(text)
    assert (result.test, result.depth, result.backend, result.build, result.flash_attn) == \
        ("tg128", 4096, "Metal", "abc (7)", "unknown")
    assert backend_of("CUDA") == "CUDA" and backend_of("BLAS") == "CPU"
    with pytest.raises(ValueError, match="either pp or tg"):
        parse_llama_bench_json('[{"n_prompt": 8, "n_gen": 8, "avg_ts": 1}]')


def test_the_gpu_check_refuses_a_device_without_a_sourced_bandwidth(capsys):
    import importlib.util

    from helpers.course.paths import REPO_ROOT

    spec = importlib.util.spec_from_file_location("gpu_check", REPO_ROOT / "benchmarks" / "gpu_check.py")
    gpu_check = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gpu_check)
    with pytest.raises(SystemExit):
        gpu_check.main(["--device", "RTX 9999"])
    assert "RTX 9999" in capsys.readouterr().err and "data/benchmark_devices.csv" in gpu_check.__doc__
