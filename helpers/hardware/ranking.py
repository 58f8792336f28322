"""Rank catalog devices for a target model: does it fit, how fast, how fast per dollar.

For each device of ``data/gpus.csv`` the best ``n_gpu_layers`` that fits its memory is found
(discrete GPUs offload the rest to system RAM of ``ram_bandwidth_gbps``), and speed comes from the
offload model of ``helpers.hardware.offload`` with each device class's fitted speed model
(``helpers.hardware.device_speed``); each option carries how far that class's estimates are from
published runs of cards the fit had not seen (``speed_error_p90``), so a ranking can say how sure it is.
Prices in US dollars (catalog list prices), speeds in tokens/s.
"""
from dataclasses import dataclass

from helpers.course.catalog import DEFAULT_SYSTEM_RAM, GPU, get_gpu, load_gpus
from helpers.hardware.device_speed import speed_model, typical_error
from helpers.hardware.offload import best_fitting_point, offload_curve
from helpers.memory.architecture import Architecture
from helpers.memory.vram import memory_plan, usable_gpu_bytes

DEFAULT_RAM_GBPS = get_gpu(DEFAULT_SYSTEM_RAM).bandwidth_gbps  # GB/s of the host RAM beside a discrete GPU


@dataclass(frozen=True)
class DeviceOption:
    name: str
    kind: str
    price_usd: float
    fits_entirely: bool  # every layer (and the output) in the device's memory
    n_gpu_layers: int  # best setting that fits; 0 = CPU only
    tokens_per_second: float
    power_w: float
    speed_error_median: float  # median |error| of the class's held-out check (0.08 = 8%)
    speed_error_p90: float  # 90% of that class's published runs were within this relative error

    @property
    def tokens_per_second_per_1000_usd(self) -> float:
        return self.tokens_per_second / self.price_usd * 1000


def assess_device(arch: Architecture, quant: str, context: int, gpu: GPU,
                  ram_bandwidth_gbps: float = DEFAULT_RAM_GBPS) -> DeviceOption:
    """Best setting of ``arch`` at ``quant`` and ``context`` on ``gpu``; ``None``-free: CPU rows use their own RAM."""
    if gpu.kind == "discrete":
        curve = offload_curve(arch, quant, context, gpu.bandwidth_gbps, ram_bandwidth_gbps, speed_model(gpu),
                              speed_model(get_gpu(DEFAULT_SYSTEM_RAM)))
        best = best_fitting_point(curve, usable_gpu_bytes(gpu))
        return DeviceOption(gpu.name, gpu.kind, gpu.price_usd, best.n_gpu_layers == arch.n_layers + 1,
                            best.n_gpu_layers, best.tokens_per_second, gpu.power_w, *_errors(gpu))
    # unified memory and CPU rows: one memory, one bandwidth; fits when the whole plan fits
    plan = memory_plan(arch, quant, context, -1 if gpu.kind == "unified" else 0)
    budget = usable_gpu_bytes(gpu) if gpu.kind == "unified" else gpu.memory_bytes
    fits = (plan.gpu_total if gpu.kind == "unified" else plan.cpu_total) <= budget
    curve = offload_curve(arch, quant, context, gpu.bandwidth_gbps, gpu.bandwidth_gbps, speed_model(gpu),
                          speed_model(gpu))
    return DeviceOption(gpu.name, gpu.kind, gpu.price_usd, fits, arch.n_layers + 1 if fits else 0,
                        curve[-1].tokens_per_second if fits else 0.0, gpu.power_w, *_errors(gpu))


def _errors(gpu) -> tuple:
    error = typical_error(gpu)
    return error.median_abs_error, error.p90_abs_error


def rank_devices(arch: Architecture, quant: str, context: int, budget_usd: float = None, min_tokens_per_second=0.0,
                 require_fit: bool = False, gpus=None, ram_bandwidth_gbps: float = DEFAULT_RAM_GBPS) -> list:
    """Devices that run the model (optionally within ``budget_usd`` and entirely in device memory),
    fastest first, each with tokens/s and tokens/s per $1000."""
    if budget_usd is not None and not budget_usd > 0:
        raise ValueError(f"budget_usd must be positive or None, got {budget_usd!r}")
    options = []
    for gpu in (gpus or load_gpus()).values():
        if budget_usd is not None and gpu.price_usd > budget_usd:
            continue
        option = assess_device(arch, quant, context, gpu, ram_bandwidth_gbps)
        if option.tokens_per_second <= 0 or option.tokens_per_second < min_tokens_per_second:
            continue
        if require_fit and not option.fits_entirely:
            continue
        options.append(option)
    return sorted(options, key=lambda o: -o.tokens_per_second)
