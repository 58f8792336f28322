"""How fast a device generates text: one speed model for every kind of device, fitted to the published record.

    seconds per token = bytes read / (efficiency x bandwidth) + layers x time per layer

The first term streams the weights (and the KV cache) at a share of the device's peak bandwidth; the
second is what every layer costs whatever its size (kernel launches and synchronisation on a GPU,
thread barriers on a CPU). Both constants are fitted per *device class* (``DEVICE_CLASSES`` in
``helpers.course.catalog``: NVIDIA datacenter cards, Apple chips, ...) to the published llama.cpp
generation runs of ``data/published_speeds.csv`` (``helpers.hardware.published_speeds``), each at its
own mean context. That is why an H100 is not three times an RTX 4090 for an 8B model: its reading
time is shorter, but the per-layer time is about the same, and for a small model it is a large part.

:func:`check_published` sets every run beside the estimate, either fitted on everything or with the
run's own device left out of the fit (the honest error: how far off a card the fit has never seen
is); ``benchmarks/device_speed_fit.py`` reports it per class. Speeds in tokens/s, bandwidth in GB/s
(10**9 bytes/s), bytes in bytes.
"""
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from helpers.course.catalog import DEVICE_CLASSES, get_device, get_model
from helpers.hardware.published_speeds import load_published_speeds
from helpers.hardware.roofline import SpeedModel, fit_speed_model, weight_and_kv_bytes
from helpers.memory.architecture import active_parameter_count

TOLERANCE = 0.20  # the share of runs within +-20% is the headline of the fit


def generation_runs(rows=None, fitted_only: bool = True) -> list:
    """The published llama-bench generation runs (tgN); ``fitted_only``: those the speed model is fitted to."""
    return [r for r in (load_published_speeds() if rows is None else rows)
            if r.phase == "generation" and not (fitted_only and r.not_fitted_because)]


@lru_cache(maxsize=None)
def run_features(row) -> tuple:
    """(bytes read per token at the run's mean context, layers, device bandwidth in GB/s) of a published run."""
    arch = get_model(row.model).architecture
    return weight_and_kv_bytes(arch, row.mix, row.mean_context_tokens), arch.n_layers, \
        get_device(row.device).bandwidth_gbps


def fit_runs(runs) -> SpeedModel:
    """One ``SpeedModel`` fitted to ``runs`` (published generation runs, several devices allowed)."""
    features = [run_features(r) for r in runs]
    return fit_speed_model([f[0] for f in features], [f[1] for f in features],
                           [r.tokens_per_second for r in runs], [f[2] for f in features])


def device_class_of(row) -> str:
    return get_device(row.device).device_class


def _fit_with_fallback(runs, device_class: str):
    """(model, what it was fitted on): the class's own runs; where they are too few or all of one shape,
    every run with the same kind of memory; failing that, every run."""
    kind = DEVICE_CLASSES[device_class]
    candidates = ((device_class, lambda c: c == device_class),
                  (f"all {kind} devices", lambda c: DEVICE_CLASSES[c] == kind),
                  ("all devices", lambda c: True))
    for fitted_on, belongs in candidates:
        try:
            return fit_runs([r for r in runs if belongs(device_class_of(r))]), fitted_on
        except ValueError:  # too few runs, or all of one shape
            continue
    raise ValueError(f"no published generation runs to fit a speed model for {device_class!r}")


@lru_cache(maxsize=1)
def class_speed_models() -> dict:
    """{device class: (SpeedModel, what it was fitted on)} from every published generation run."""
    runs = generation_runs()
    return {c: _fit_with_fallback(runs, c) for c in DEVICE_CLASSES}


def speed_model(device) -> SpeedModel:
    """The fitted speed model of ``device``'s class (a ``helpers.course.catalog`` GPU or benchmark device)."""
    return class_speed_models()[device.device_class][0]


def tokens_per_second(bytes_per_token: float, n_layers: int, device, bandwidth_gbps: float = None) -> float:
    """Generation speed of a model reading ``bytes_per_token`` with ``n_layers`` layers, all on ``device``.

    ``bandwidth_gbps`` replaces the catalog's (e.g. a machine's measured bandwidth), GB/s.
    """
    return speed_model(device).tokens_per_second(bytes_per_token, bandwidth_gbps or device.bandwidth_gbps, n_layers)


def generation_tokens_per_second(arch, mix: str, context_tokens: int, device, cache_type: str = "f16",
                                 batch: int = 1) -> float:
    """The course's one estimate of generation speed with the whole model on one device.

    Each token reads the weights it uses and the KV cache of the ``context_tokens`` before it
    (``helpers.hardware.roofline.weight_and_kv_bytes``), through ``device``'s fitted speed model.
    ``helpers.memory.willitrun.assess``, ``helpers.hardware.ranking.assess_device`` and the offload
    curves (every layer on the device) give the same number; the tests hold them to it.
    """
    return tokens_per_second(weight_and_kv_bytes(arch, mix, context_tokens, cache_type, batch), arch.n_layers, device)


@dataclass(frozen=True)
class TokenTime:
    """Where the time of one generated token goes (seconds): reading bytes, and the fixed cost of the layers."""

    reading_seconds: float
    layer_seconds: float

    @property
    def total_seconds(self) -> float:
        return self.reading_seconds + self.layer_seconds

    @property
    def tokens_per_second(self) -> float:
        return 1 / self.total_seconds


def time_per_token(arch, mix: str, context_tokens: int, device) -> TokenTime:
    """:func:`generation_tokens_per_second`'s token split into its two terms (seconds)."""
    model = speed_model(device)
    nbytes = weight_and_kv_bytes(arch, mix, context_tokens)
    return TokenTime(model.seconds_for(nbytes, device.bandwidth_gbps, 0),
                     model.seconds_for(0, device.bandwidth_gbps, arch.n_layers))


@dataclass(frozen=True)
class ContextSpeed:
    """One row of :func:`speed_by_context`: bytes read per generated token (bytes) and the estimate (tokens/s)."""

    context_tokens: int
    weight_bytes: int
    kv_cache_bytes: int
    tokens_per_second: float


def speed_by_context(arch, mix: str, device, contexts, cache_type: str = "f16") -> list:
    """:func:`generation_tokens_per_second` of one setup at each of ``contexts`` (tokens), with its bytes."""
    contexts = list(contexts)
    if not contexts:
        raise ValueError("contexts must list at least one context length (tokens)")
    weights = weight_and_kv_bytes(arch, mix, 0, cache_type)
    return [ContextSpeed(c, weights, weight_and_kv_bytes(arch, mix, c, cache_type) - weights,
                         generation_tokens_per_second(arch, mix, c, device, cache_type)) for c in contexts]


@dataclass(frozen=True)
class SpeedCheck:
    """A published generation run beside the estimate at its mean context (tokens/s)."""

    published: object  # a helpers.hardware.published_speeds.PublishedSpeed
    device_class: str
    estimate: float
    fitted_on: str  # the class, or "all <kind> devices" when the class alone could not be fitted
    device_left_out: bool  # True: the run's own device was not in the fit

    @property
    def ratio(self) -> float:
        """Estimate / published: above 1, the estimate is too high."""
        return self.estimate / self.published.tokens_per_second

    @property
    def error(self) -> float:
        """Relative error of the estimate, (estimate - published) / published."""
        return self.ratio - 1

    @property
    def efficiency_reached(self) -> float:
        """The share of the device's peak bandwidth this run reached, counting the bytes the estimate counts."""
        nbytes, _, bandwidth = run_features(self.published)
        return self.published.tokens_per_second * nbytes / (bandwidth * 1e9)


def check_published(rows=None, leave_device_out: bool = False) -> list:
    """Every published generation run beside the estimate of its device's class, at the run's mean context.

    ``leave_device_out``: fit each device's class without that device's runs, so the estimate is a
    prediction for a card the fit has not seen (the honest error); otherwise the fit used every run.
    """
    runs = generation_runs(rows)
    checks = []
    for device in sorted({r.device for r in runs}):
        device_class = get_device(device).device_class
        if leave_device_out:
            model, fitted_on = _fit_with_fallback([r for r in runs if r.device != device], device_class)
        elif rows is None:
            model, fitted_on = class_speed_models()[device_class]
        else:
            model, fitted_on = _fit_with_fallback(runs, device_class)
        for r in (r for r in runs if r.device == device):
            nbytes, layers, bandwidth = run_features(r)
            checks.append(SpeedCheck(r, device_class, model.tokens_per_second(nbytes, bandwidth, layers), fitted_on,
                                     leave_device_out))
    return checks


@dataclass(frozen=True)
class ClassError:
    """How far the estimates of one device class are from the published runs (relative errors)."""

    device_class: str
    runs: int
    devices: int
    median_abs_error: float
    p90_abs_error: float
    within_tolerance: float  # share of runs within +-TOLERANCE
    median_error: float  # signed: above 0, the class is overestimated


def error_by_class(checks) -> list:
    """One ``ClassError`` per device class that has checks, and one for all of them ("all")."""
    groups = {}
    for c in checks:
        groups.setdefault(c.device_class, []).append(c)
    groups["all"] = list(checks)
    out = []
    for name, group in groups.items():
        errors = np.array([c.error for c in group])
        out.append(ClassError(name, len(group), len({c.published.device for c in group}),
                              float(np.median(np.abs(errors))), float(np.percentile(np.abs(errors), 90)),
                              float(np.mean(np.abs(errors) <= TOLERANCE)), float(np.median(errors))))
    return out


@lru_cache(maxsize=1)
def held_out_errors() -> dict:
    """{device class (and "all"): ClassError} of the leave-one-device-out check: how far off a card the fit
    has not seen is, the error to quote beside an estimate for a device of that class."""
    return {e.device_class: e for e in error_by_class(check_published(leave_device_out=True))}


def published_run_count(device_name: str) -> int:
    """How many published generation runs of this very device the speed model is fitted to (0: a card new to the
    record, predicted from its class alone)."""
    return sum(r.device == device_name for r in generation_runs())


def typical_error(device) -> ClassError:
    """:func:`held_out_errors` for ``device``'s class, or for all classes when its class has no published run."""
    errors = held_out_errors()
    return errors.get(device.device_class, errors["all"])


@dataclass(frozen=True)
class PromptCheck:
    """A published prompt run (ppN) beside the speed predicted from the same device's other models (tokens/s)."""

    published: object  # a helpers.hardware.published_speeds.PublishedSpeed
    estimate: float

    @property
    def error(self) -> float:
        return self.estimate / self.published.tokens_per_second - 1


def prompt_flops_per_token(row) -> float:
    """Floating-point operations one prompt token costs: 2 per active parameter (a multiply and an add)."""
    return 2.0 * active_parameter_count(get_model(row.model).architecture)


def prompt_checks(rows=None) -> list:
    """Prompt processing is compute-bound: on one device, backend, build and test, tokens/s x FLOPs per token
    is about constant. Each model's ppN predicted from the same setup's *other* models (their mean
    FLOP/s over its FLOPs per token), for every setup with at least two models."""
    runs = [r for r in (load_published_speeds() if rows is None else rows)
            if r.phase == "prompt" and r.depth == 0 and not r.not_fitted_because]
    setups = {}
    for r in runs:
        setups.setdefault((r.device, r.backend, r.build, r.test, r.source), []).append(r)
    checks = []
    for group in setups.values():
        for r in group:
            others = [o for o in group if o.model != r.model]
            if others:
                flops = float(np.mean([o.tokens_per_second * prompt_flops_per_token(o) for o in others]))
                checks.append(PromptCheck(r, flops / prompt_flops_per_token(r)))
    return checks


def prompt_flops_per_second(device_name: str):
    """The prompt-processing rate (FLOP/s) ``device_name`` reached in its published ppN runs (their median), or
    None when the record has none: a measured rate with the device's tensor cores and kernels, where the
    catalog's fp16 figure is the shader rate without them."""
    runs = [r for r in load_published_speeds() if r.device == device_name and r.phase == "prompt" and r.depth == 0
            and not r.not_fitted_because]
    if not runs:
        return None
    return float(np.median([r.tokens_per_second * prompt_flops_per_token(r) for r in runs]))


def prompt_tokens_per_second(arch, device) -> tuple:
    """(prompt tokens/s of ``arch`` on ``device``, where the rate comes from): 2 x active parameters FLOPs
    per prompt token at the rate the card reached in its published prompt runs, else at the catalog's fp16
    shader rate, which leaves out tensor cores (then the speed is a lower bound)."""
    published = prompt_flops_per_second(device.name)
    rate = published or device.fp16_tflops * 1e12
    if rate <= 0:
        raise ValueError(f"{device.name} has neither published prompt runs nor an fp16 rate in the catalog")
    source = "published prompt runs of this card" if published else "fp16 shader rate (a lower bound on the speed)"
    return rate / (2 * active_parameter_count(arch)), source

