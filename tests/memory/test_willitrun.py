"""The will-it-run CLI, in process and once as a subprocess."""
import json
import subprocess
import sys

import pytest

from helpers.course.catalog import get_gpu, get_model
from helpers.memory.willitrun import assess, main


def run_json(argv, capsys):
    code = main(argv + ["--json"])
    return code, json.loads(capsys.readouterr().out)


def test_llama_8b_q4_k_m_8k_fits_a_3090(capsys):
    code, out = run_json(["--model", "Llama 3.1 8B", "--quant", "Q4_K_M", "--ctx", "8192", "--gpu", "RTX 3090"], capsys)
    assert code == 0 and out["fits"] and out["layers_on_gpu"] == 32 and out["output_on_gpu"]
    assert out["total_bytes"] == out["weights_bytes"] + out["kv_cache_bytes"] + out["compute_buffer_bytes"] + \
        out["overhead_bytes"]
    assert 60 < out["estimated_tokens_per_second"] < 200


def test_explicit_architecture_and_auto_layers(capsys):
    argv = ["--layers", "80", "--hidden", "8192", "--ffn", "28672", "--heads", "64", "--kv-heads", "8",
            "--head-dim", "128", "--vocab", "128256", "--params", "70.6", "--vram-gib", "24", "--n-gpu-layers", "auto"]
    code, out = run_json(argv, capsys)
    assert code == 0 and 0 < out["layers_on_gpu"] < 80 and out["estimated_tokens_per_second"] is None
    code, out = run_json(argv[:-2], capsys)  # all layers: does not fit
    assert code == 1 and not out["fits"]


def test_cpu_machine_runs_everything_in_ram(capsys):
    code, out = run_json(["--model", "Qwen2.5 0.5B", "--gpu", "CPU desktop DDR4-3200 dual-channel"], capsys)
    assert code == 0 and out["gpu_bytes"] == 0 and out["estimated_tokens_per_second"] > 0


@pytest.mark.parametrize("argv,message", [
    (["--model", "Lama 3.1 8B", "--gpu", "RTX 3090"], "did you mean 'Llama 3.1 8B'"),
    (["--model", "Llama 3.1 8B", "--gpu", "RTX 30"], "did you mean 'RTX 3060 12GB' or 'RTX 3070'"),
    (["--model", "Llama 3.1 8B", "--gpu", "RTX 3090", "--quant", "Q4KM"], "did you mean"),
    (["--model", "Llama 3.1 8B", "--vram-gib", "nan"], "--vram-gib must be in"),
    (["--model", "Llama 3.1 8B", "--vram-gib", "-3"], "--vram-gib must be in"),
    (["--model", "Llama 3.1 8B", "--vram-gib", "8", "--ctx", "0"], "--ctx must be in"),
    (["--model", "Llama 3.1 8B", "--vram-gib", "8", "--ctx", "inf"], "--ctx must be"),
    (["--model", "Llama 3.1 8B", "--vram-gib", "8", "--ctx", "500000"], "trained maximum"),
    (["--layers", "32", "--vram-gib", "8"], "missing --hidden"),
    (["--model", "Llama 3.1 8B"], "give --gpu NAME"),
])
def test_bad_input_is_refused_clearly(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_assess_text_agrees_with_json():
    result = assess(get_model("Mistral 7B v0.3").architecture, "Q8_0", 4096, gpu=get_gpu("RTX 4060 Ti 16GB"))
    d = result.as_dict()
    assert d["fits"] and d["file_bytes"] > d["weights_bytes"]


def test_cli_as_a_subprocess():
    done = subprocess.run([sys.executable, "-m", "helpers.memory.willitrun", "--model", "Llama 3.2 1B", "--gpu", "T4", "--json"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["fits"] is True


@pytest.mark.parametrize("budget", [None, -1, float("nan"), float("inf"), 10**20])
def test_assess_refuses_a_missing_or_absurd_budget(budget):
    with pytest.raises(ValueError, match="gpu_budget_bytes in"):
        assess(get_model("Llama 3.2 1B").architecture, "Q4_K_M", 4096, gpu_budget_bytes=budget)


def test_params_that_disagree_with_the_architecture_are_refused(capsys):
    with pytest.raises(SystemExit):
        main(["--layers", "32", "--hidden", "4096", "--ffn", "14336", "--heads", "32", "--kv-heads", "8",
              "--head-dim", "128", "--vocab", "128256", "--params", "70", "--vram-gib", "24"])
    assert "disagrees with the architecture" in capsys.readouterr().err


def test_a_plan_that_does_not_fit_gets_no_speed_estimate():
    gpu = get_gpu("RTX 3090")
    too_big = assess(get_model("Llama 3.1 70B").architecture, "Q4_K_M", 8192, gpu=gpu)
    fits = assess(get_model("Llama 3.1 8B").architecture, "Q4_K_M", 8192, gpu=gpu)
    assert not too_big.verdict.fits and too_big.tokens_per_second is None
    assert fits.verdict.fits and fits.tokens_per_second > 0


@pytest.mark.parametrize("tied", [False, True])
def test_a_files_plan_equals_the_shapes_plan_when_the_file_is_what_the_shape_predicts(tmp_path, tied):
    """``assess_file`` reads weights from the file's tensor table; for a random-weight F16 file of a known
    shape, the terms equal ``assess``'s predicted ones, offloaded or not."""
    from helpers.gguf.header import read_header
    from helpers.gguf.random_weights import write_random_gguf
    from helpers.memory.architecture import Architecture
    from helpers.memory.willitrun import assess_file

    arch = Architecture("tiny", 4, 64, 128, 4, 2, 16, 512, max_context=2048, tied_embeddings=tied)
    header = read_header(write_random_gguf(arch, tmp_path / "tiny.gguf"))
    for layers in (-1, 0, 2, 4):
        from_file = assess_file(header, 1024, gpu_budget_bytes=2**30, n_gpu_layers=layers).verdict.plan
        from_shape = assess(arch, "F16", 1024, gpu_budget_bytes=2**30, n_gpu_layers=layers).verdict.plan
        assert from_file == from_shape, layers
    assert assess_file(header, 1024, gpu_budget_bytes=2**30).file_bytes == (tmp_path / "tiny.gguf").stat().st_size
    with pytest.raises(ValueError, match="trained maximum"):
        assess_file(header, 4096, gpu_budget_bytes=2**30)


@pytest.mark.parametrize("context", [0, -5, "4096", 4096.0, True])
def test_a_context_that_is_not_a_whole_number_of_tokens_is_named(context):
    with pytest.raises(ValueError, match=f"context must be a whole number of tokens, at least 1, got {context!r}"):
        assess(get_model("Llama 3.1 8B").architecture, "Q4_K_M", context, gpu_budget_bytes=2**30)


@pytest.fixture(scope="module")
def reduced_files(tmp_path_factory):
    """Random-weight F16 files of each reduced new family (a few MB each)."""
    from helpers.memory.estimator_check import REDUCED, reduced_model

    folder = tmp_path_factory.mktemp("reduced")
    return {family: reduced_model(family, folder, "F16") for family in REDUCED}


@pytest.mark.parametrize("family", ["gemma3", "qwen3moe", "gpt-oss", "deepseek2"])
def test_a_new_familys_file_is_planned_like_its_shape(reduced_files, family):
    """Sliding-window, expert and latent-attention files: the file's plan (KV cache included) and its speed
    equal the shape's, so a window, MLA's compressed cache and the unused experts are all seen in the file."""
    from helpers.gguf.header import read_header
    from helpers.memory.estimator_check import REDUCED
    from helpers.memory.gguf_size import bytes_read_per_token
    from helpers.memory.vram import kv_cache_bytes
    from helpers.memory.willitrun import assess_file, file_bytes_read_per_token

    arch, header = REDUCED[family], read_header(reduced_files[family])
    for context in (1024, 8192):
        for layers in (-1, 0, 2):
            options = dict(gpu_budget_bytes=2**34, n_gpu_layers=layers, bandwidth_gbps=100.0)
            from_file, from_shape = assess_file(header, context, **options), assess(arch, "F16", context, **options)
            assert from_file.verdict.plan == from_shape.verdict.plan, (context, layers)
            if layers == 2:  # a split: the shape knows each block's experts, the file's header only their sum
                assert from_file.tokens_per_second is None and from_shape.tokens_per_second > 0
            else:
                assert from_file.tokens_per_second == from_shape.tokens_per_second, (context, layers)
        kv = from_file.as_dict()["kv_cache_bytes"]
        assert kv == kv_cache_bytes(arch, context) == from_shape.as_dict()["kv_cache_bytes"]
    if arch.sliding_window:  # no longer every block caching the whole context
        assert kv < kv_cache_bytes(arch, 8192, swa_full=True)
    per_token = file_bytes_read_per_token(header, arch)
    assert per_token == bytes_read_per_token(arch, "F16")
    embedding = header.embedding_bytes if header.has_output_weight else 0
    unused = header.expert_bytes * (arch.n_experts - arch.n_experts_used) // arch.n_experts if arch.is_moe else 0
    assert per_token == header.tensor_bytes - embedding - unused
    assert (unused > 0) == arch.is_moe


@pytest.mark.slow
@pytest.mark.parametrize("family", ["gemma3", "qwen3moe", "gpt-oss", "deepseek2"])
def test_a_files_kv_cache_is_the_one_llama_cpp_allocates(reduced_files, family):
    """End to end: the file's own keys give the KV cache llama.cpp reports when it loads that file (its CLI's
    default, a window-sized cache for sliding-window blocks)."""
    from helpers.gguf.header import read_header
    from helpers.memory.estimator_check import llama_cpp_buffers
    from helpers.memory.willitrun import assess_file

    path = reduced_files[family]
    planned = assess_file(read_header(path), 4096, gpu_budget_bytes=0).as_dict()["kv_cache_bytes"]
    assert planned == llama_cpp_buffers(path, 4096, swa_full=False)["kv_cache_bytes"]


# --- a mixture of experts with its experts in system RAM (llama.cpp's --n-cpu-moe) --------------------

MOE_ON_ONE_CARD = [("Qwen3 30B-A3B", "Q4_K_M", "RTX 4060 Ti 16GB"), ("gpt-oss 120B", "MXFP4_MOE", "RTX 3090")]


@pytest.mark.parametrize("name,quant,gpu_name", MOE_ON_ONE_CARD)
def test_experts_in_ram_fit_the_card_and_beat_the_best_layer_split(name, quant, gpu_name):
    """n_cpu_moe="auto" keeps the fewest blocks' experts in RAM that let everything else fit the GPU, and
    its speed is ``helpers.hardware.offload``'s; it is faster than the most layers that fit the same card."""
    from helpers.hardware.device_speed import speed_model
    from helpers.hardware.offload import best_fitting_point, expert_offload_curve, fewest_cpu_moe_that_fits, offload_curve
    from helpers.memory.vram import usable_gpu_bytes
    from helpers.memory.willitrun import SYSTEM_RAM

    arch, gpu, ram = get_model(name).architecture, get_gpu(gpu_name), get_gpu(SYSTEM_RAM)
    everything = assess(arch, quant, 8192, gpu=gpu)
    experts = assess(arch, quant, 8192, gpu=gpu, n_cpu_moe="auto")
    layers = assess(arch, quant, 8192, gpu=gpu, n_gpu_layers="auto")
    n = experts.n_cpu_moe
    assert not everything.verdict.fits and "keep more experts in system RAM" in everything.verdict.reason
    assert experts.verdict.fits and 0 < n < arch.n_layers
    assert experts.verdict.plan.layers_on_gpu == arch.n_layers and experts.verdict.plan.output_on_gpu
    assert not assess(arch, quant, 8192, gpu=gpu, n_cpu_moe=n - 1).verdict.fits  # the smallest that fits
    assert experts.verdict.reason.endswith(f", experts of the first {n} layers in RAM")
    assert layers.verdict.fits and 0 < layers.verdict.plan.layers_on_gpu < arch.n_layers
    assert experts.tokens_per_second > layers.tokens_per_second > 0

    budget = usable_gpu_bytes(gpu)
    models = speed_model(gpu), speed_model(ram)
    point = fewest_cpu_moe_that_fits(expert_offload_curve(arch, quant, 8192, gpu.bandwidth_gbps, ram.bandwidth_gbps,
                                                          *models), budget)
    assert (point.n_cpu_moe, point.gpu_memory_bytes) == (n, experts.verdict.plan.gpu_total)
    assert experts.tokens_per_second == point.tokens_per_second
    best_layers = best_fitting_point(offload_curve(arch, quant, 8192, gpu.bandwidth_gbps, ram.bandwidth_gbps, *models),
                                     budget)
    assert best_layers.n_gpu_layers == layers.verdict.plan.layers_on_gpu
    assert layers.tokens_per_second == best_layers.tokens_per_second
    assert experts.ram_bandwidth_gbps == ram.bandwidth_gbps and everything.ram_bandwidth_gbps is None


def test_a_given_n_cpu_moe_is_planned_and_zero_changes_nothing():
    from helpers.memory.vram import memory_plan

    arch, gpu = get_model("Qwen3 30B-A3B").architecture, get_gpu("RTX 3090")
    assert assess(arch, "Q4_K_M", 8192, gpu=gpu, n_cpu_moe=0) == assess(arch, "Q4_K_M", 8192, gpu=gpu)
    six = assess(arch, "Q4_K_M", 8192, gpu=gpu, n_cpu_moe=6)
    assert six.verdict.plan == memory_plan(arch, "Q4_K_M", 8192, -1, n_cpu_moe=6)
    faster_ram = assess(arch, "Q4_K_M", 8192, gpu=gpu, n_cpu_moe=6, ram_bandwidth_gbps=2 * six.ram_bandwidth_gbps)
    assert faster_ram.tokens_per_second > six.tokens_per_second
    assert assess(arch, "Q4_K_M", 8192, gpu=gpu).tokens_per_second > six.tokens_per_second  # all on the GPU
    on_a_cpu = assess(arch, "Q4_K_M", 8192, gpu=get_gpu("CPU desktop DDR5-5600 dual-channel"), n_cpu_moe="auto")
    assert on_a_cpu.n_cpu_moe == 0 and on_a_cpu.verdict.plan.gpu_total == 0


@pytest.mark.parametrize("n_cpu_moe", [4, "auto"])
def test_n_cpu_moe_is_refused_for_a_dense_model(n_cpu_moe):
    with pytest.raises(ValueError, match="n_cpu_moe needs a mixture of experts; 'Llama 3.1 8B' has no experts"):
        assess(get_model("Llama 3.1 8B").architecture, "Q4_K_M", 8192, gpu=get_gpu("RTX 3090"), n_cpu_moe=n_cpu_moe)


@pytest.mark.parametrize("options,message", [
    (dict(n_cpu_moe=-1), r"n_cpu_moe must be a whole number in \[0, 48\], got -1"),
    (dict(n_cpu_moe=49), r"n_cpu_moe must be a whole number in \[0, 48\], got 49"),
    (dict(n_cpu_moe="all"), r"n_cpu_moe must be a whole number in \[0, 48\] or 'auto', got 'all'"),
    (dict(n_cpu_moe="auto", n_gpu_layers="auto"), "cannot both be 'auto'"),
])
def test_a_bad_n_cpu_moe_is_named(options, message):
    with pytest.raises(ValueError, match=message):
        assess(get_model("Qwen3 30B-A3B").architecture, "Q4_K_M", 8192, gpu=get_gpu("RTX 3090"), **options)


def test_cli_plans_and_prints_experts_in_ram(capsys):
    argv = ["--model", "Qwen3 30B-A3B", "--quant", "Q4_K_M", "--ctx", "8192", "--gpu", "RTX 4060 Ti 16GB",
            "--n-cpu-moe", "auto"]
    expected = assess(get_model("Qwen3 30B-A3B").architecture, "Q4_K_M", 8192, gpu=get_gpu("RTX 4060 Ti 16GB"),
                      n_cpu_moe="auto")
    code, out = run_json(argv, capsys)
    assert code == 0 and out == json.loads(json.dumps(expected.as_dict()))
    assert out["n_cpu_moe"] == expected.n_cpu_moe > 0
    assert main(argv) == 0
    text = capsys.readouterr().out
    n = expected.n_cpu_moe
    assert f"  experts in RAM   first {n} of 48 layers (--n-cpu-moe {n})\n" in text
    assert f"experts of the first {n} layers in RAM" in text and "GPU + system RAM at" in text
    with pytest.raises(SystemExit) as exc:
        main(["--model", "Llama 3.1 8B", "--gpu", "RTX 3090", "--n-cpu-moe", "2"])
    assert exc.value.code == 2
    assert "n_cpu_moe needs a mixture of experts; 'Llama 3.1 8B' has no experts" in capsys.readouterr().err


def test_a_file_refuses_n_cpu_moe_clearly(reduced_files, capsys):
    from helpers.gguf.header import read_header
    from helpers.memory.willitrun import assess_file

    header = read_header(reduced_files["qwen3moe"])
    assert assess_file(header, 1024, gpu_budget_bytes=2**34, n_cpu_moe=0).verdict.fits
    with pytest.raises(ValueError, match="n_cpu_moe 'auto' is not planned for a file"):
        assess_file(header, 1024, gpu_budget_bytes=2**34, n_cpu_moe="auto")
    with pytest.raises(SystemExit) as exc:
        main(["--gguf", str(reduced_files["qwen3moe"]), "--vram-gib", "16", "--n-cpu-moe", "2"])
    assert exc.value.code == 2 and "n_cpu_moe 2 is not planned for a file" in capsys.readouterr().err


def test_a_plan_that_fits_only_with_flash_attention_says_so():
    """llama-cpp-python runs without flash attention unless told: a verdict that needs it names it."""
    from helpers.memory.vram import largest_context_that_fits, usable_gpu_bytes

    arch, gpu = get_model("Llama 3.1 8B").architecture, get_gpu("RTX 3090")
    on = largest_context_that_fits(arch, "F16", usable_gpu_bytes(gpu), flash_attention=True)
    off = largest_context_that_fits(arch, "F16", usable_gpu_bytes(gpu), flash_attention=False)
    assert on > off > 0
    tight, easy = assess(arch, "F16", on, gpu=gpu), assess(arch, "F16", off, gpu=gpu)
    assert tight.verdict.fits and "only with flash attention on" in tight.verdict.reason
    assert "flash_attn=True" in tight.verdict.reason and tight.gpu_bytes_other_flash_attention > usable_gpu_bytes(gpu)
    assert easy.verdict.fits and "flash attention" not in easy.verdict.reason
    assert not assess(arch, "F16", on, gpu=gpu, flash_attention=False).verdict.fits


def test_names_are_forgiven_and_the_catalog_can_be_listed(capsys):
    """A learner types "3060", "rtx 3060" or "q4_k_m": one match is taken; errors are one line with the suggestion."""
    for gpu in ("3060", "rtx 3060", "RTX 3060 12GB"):
        code, out = run_json(["--model", "llama 3.1 8b", "--quant", "q4_k_m", "--gpu", gpu], capsys)
        assert code == 0 and out["quant"] == "Q4_K_M" and out["model"] == "Llama 3.1 8B"
    with pytest.raises(SystemExit):
        main(["--model", "Llama 3.1 8B", "--gpu", "RTX 4060"])  # two cards contain the name
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'RTX 4060 8GB' or 'RTX 4060 Ti 16GB'" in err and "usage:" not in err
    assert main(["--list-gpus"]) == 0 and "RTX 3060 12GB" in capsys.readouterr().out
    assert main(["--list-models"]) == 0 and "Qwen3 30B-A3B" in capsys.readouterr().out


def test_vram_is_given_in_gib_under_either_spelling(capsys):
    args = ["--model", "Llama 3.1 8B", "--quant", "Q4_K_M", "--ctx", "4096", "--json"]
    main(args + ["--vram-gib", "8"])
    new = json.loads(capsys.readouterr().out)
    main(args + ["--vram-gb", "8"])
    assert json.loads(capsys.readouterr().out) == new
    assert new["gpu_budget_bytes"] == 8 * 2**30 - 2**30  # 8 GiB less the 1 GiB margin


def test_weights_above_the_file_size_are_explained():
    from helpers.memory.willitrun import format_text

    tied = format_text(assess(get_model("SmolLM2 135M").architecture, "Q8_0", 4096, gpu=get_gpu("RTX 3060 12GB")))
    assert "more than the file: the GPU holds its own copy of the embedding table" in tied
    untied = format_text(assess(get_model("Llama 3.1 8B").architecture, "Q4_K_M", 4096, gpu=get_gpu("RTX 3060 12GB")))
    assert "more than the file" not in untied
