"""Say what will go wrong before it does: a machine card plus the settings you chose, checked.

``diagnose`` compares a ``helpers.hardware.machine.MachineCard`` (notebook 00) with a model, quantization,
context, ``n_gpu_layers`` and thread count, using the memory plan of ``helpers.memory.vram``, and returns
findings with a severity ("error": it will fail, "warning": it will run badly, "info": worth
knowing), the message an operator would otherwise meet, and the fix. Memory in bytes (GiB = 2**30
in messages). The catalogue of real error texts lives in ``data/troubleshooting.json``.
"""
import json
from dataclasses import dataclass

from helpers.course.paths import DATA_DIR
from helpers.hardware.machine import GGML_BACKEND_SWITCHES, MachineCard
from helpers.memory.architecture import Architecture
from helpers.memory.vram import FIT_MARGIN_BYTES, judge, memory_plan, plan_budget_bytes, unified_gpu_fraction
from helpers.troubleshooting.setup_check import rebuild_command

SEVERITIES = ("error", "warning", "info")
RAM_WARNING_SHARE = 0.85  # above this share of available RAM the system starts to swap under other load


@dataclass(frozen=True)
class Finding:
    severity: str  # one of SEVERITIES
    code: str  # an id of data/troubleshooting.json where one applies, else a short name
    message: str
    fix: str


def load_troubleshooting() -> dict:
    """The entries of ``data/troubleshooting.json`` by id."""
    with open(DATA_DIR / "troubleshooting.json", encoding="utf-8") as f:
        return {e["id"]: e for e in json.load(f)["entries"]}


def _gib(nbytes: float) -> str:
    return f"{nbytes / 2**30:.2f} GiB"


def _check_settings(context: int, n_gpu_layers: int, threads: int) -> None:
    for name, value, low in (("context", context, 1), ("threads", threads, 1), ("n_gpu_layers", n_gpu_layers, -1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")


def _gpu_findings(card: MachineCard, plan, n_gpu_layers: int) -> list:
    out = []
    if n_gpu_layers != 0 and not card.has_gpu:
        out.append(Finding("warning", "no_gpu_build", f"n_gpu_layers={n_gpu_layers} but this machine has no GPU: "
                           "llama.cpp will ignore it and run every layer on the CPU",
                           "set n_gpu_layers=0 and expect CPU speed (notebook 10)"))
        return out
    if not card.has_gpu:
        return out
    gpu = card.gpus[0]
    if not card.llama_cpp_gpu_offload:
        fix = (f"rebuild llama.cpp with its {gpu.backend} backend, in the course folder: {rebuild_command(gpu.backend)}"
               if gpu.backend in GGML_BACKEND_SWITCHES else f"no llama.cpp build switch is known for {gpu.backend}")
        out.append(Finding("error" if n_gpu_layers else "warning", "no_gpu_build",
                           f"a {gpu.backend} GPU ({gpu.name}) is present but this llama.cpp build has no GPU "
                           "offload: every layer will run on the CPU", fix))
        return out
    if n_gpu_layers == 0:
        out.append(Finding("info", "gpu_unused", f"{gpu.name} is available but n_gpu_layers=0",
                           "set n_gpu_layers=-1 (all layers) if the model fits"))
        return out
    capacity = int(gpu.memory_bytes * unified_gpu_fraction(gpu.memory_bytes)) if gpu.unified_memory else gpu.memory_bytes
    verdict = judge(plan, plan_budget_bytes(capacity))
    if verdict.near_miss:
        out.append(Finding("warning", "gpu_memory_tight", f"needs {_gib(plan.gpu_total)} of {gpu.name}'s "
                           f"{_gib(capacity)}: it loads with less than the {_gib(FIT_MARGIN_BYTES)} llama.cpp's --fit "
                           "keeps free, and fails with out of memory when anything else (the desktop, a browser, a "
                           "longer prompt batch) wants GPU memory",
                           "shorten the context, quantize the KV cache or offload one layer fewer"))
    elif plan.gpu_total > capacity:
        code = "metal_out_of_memory" if gpu.backend == "Metal" else "cuda_oom_llama_cpp"
        out.append(Finding("error", code, f"needs {_gib(plan.gpu_total)} on {gpu.name}, which has {_gib(capacity)} in all: "
                           "allocation will fail with out of memory",
                           "offload fewer layers (helpers.memory.vram.most_gpu_layers_that_fit), shorten the context "
                           "or use a smaller quant"))
    elif not plan.output_on_gpu:
        out.append(Finding("warning", "slow_partial_offload", f"only {plan.layers_on_gpu} blocks on the GPU: the "
                           "rest is read from system RAM for every token", "expect the speed of the offload "
                           "curve (notebook 11); a smaller quant may fit entirely"))
    return out


def diagnose(card: MachineCard, arch: Architecture, quant: str, context: int, n_gpu_layers: int = 0,
             threads: int = 1) -> list:
    """Findings for running ``arch`` at ``quant`` with ``context`` tokens on ``card``'s machine (errors first).

    Memory is planned for the context asked for, as llama.cpp allocates it, with flash attention as
    llama.cpp's tools default to, and judged with the margin llama.cpp's ``--fit`` keeps free.
    """
    _check_settings(context, n_gpu_layers, threads)
    findings = []
    if context > arch.max_context:  # llama.cpp allocates what was asked (and warns); the plan below does too
        findings.append(Finding("error", "context_overflow", f"context {context} is beyond {arch.name}'s trained "
                                f"length {arch.max_context}: the model has not learned positions past it and its "
                                "predictions get worse there (notebook 05 measures the loss by position)",
                                f"use at most {arch.max_context} tokens, or a model trained for longer contexts"))
    gpu_layers = 0 if not (card.has_gpu and card.llama_cpp_gpu_offload) else n_gpu_layers
    plan = memory_plan(arch, quant, context, gpu_layers)
    findings += _gpu_findings(card, plan, n_gpu_layers)
    ram_need = plan.cpu_total
    if ram_need > card.ram_available_bytes:
        findings.append(Finding("error", "ram_too_small", f"needs {_gib(ram_need)} of system RAM, "
                                f"{_gib(card.ram_available_bytes)} available: the load fails or the system swaps",
                                "use a smaller quant or model, a shorter context, or offload layers to a GPU"))
    elif ram_need > RAM_WARNING_SHARE * card.ram_available_bytes:
        findings.append(Finding("warning", "ram_tight", f"needs {_gib(ram_need)} of {_gib(card.ram_available_bytes)} "
                                "available RAM: other programs may push it into swap", "close other programs first"))
    if threads > card.physical_cores:
        findings.append(Finding("warning", "slow_threads", f"threads={threads} exceeds the {card.physical_cores} "
                                "physical cores: threads will wait for each other", f"use threads={card.physical_cores}"))
    elif threads < card.physical_cores and gpu_layers == 0:
        findings.append(Finding("info", "slow_threads", f"threads={threads} leaves {card.physical_cores - threads} "
                                "physical cores idle", f"try threads={card.physical_cores}"))
    return sorted(findings, key=lambda f: SEVERITIES.index(f.severity))
