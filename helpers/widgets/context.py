"""Widget for notebook 05: model x context x KV cache type -> memory breakdown (MiB), redrawn as HTML.

The numbers come from ``helpers.memory.vram.memory_plan`` (CPU run: everything in system RAM).
:func:`breakdown_table` is the plain view of one setting (a DataFrame): the widget draws its rows,
and a notebook stores it beside the widget for readers without a kernel.
"""
import html

import pandas as pd

from helpers.memory.vram import memory_plan

CONTEXTS = (256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536, 131072)
CACHE_TYPES = ("f16", "q8_0", "q4_0")
DEFAULT_CONTEXT = 4096  # tokens: the slider's starting value
DEFAULT_CACHE_TYPE = "f16"
COLORS = {"weights": "#3182bd", "KV cache": "#fd8d3c", "compute buffer": "#74c476"}


def context_breakdown(arch, context: int, cache_type: str = "f16", mix: str = "Q4_K_M") -> dict:
    """Memory terms (bytes) for ``arch`` on the CPU at ``context`` tokens with a ``cache_type`` KV cache.

    A quantized cache (q8_0, q4_0) needs flash attention in llama.cpp, so it is planned with flash
    attention on; f16 without. The context is capped at the model's trained maximum.
    """
    context = min(int(context), arch.max_context)
    plan = memory_plan(arch, mix, context, n_gpu_layers=0, cache_type=cache_type,
                       flash_attention=cache_type != "f16")
    return {"context": context, "weights": plan.weights_cpu, "KV cache": plan.kv_cpu,
            "compute buffer": plan.compute_cpu, "total": plan.cpu_total}


def breakdown_table(terms: dict) -> pd.DataFrame:
    """The terms of :func:`context_breakdown` as a table: MiB (2**20 bytes, one decimal) and share of the total (%)."""
    total = terms["total"]
    return pd.DataFrame({"MiB": [round(terms[k] / 2**20, 1) for k in (*COLORS, "total")],
                         "share (%)": [round(100 * terms[k] / total) for k in (*COLORS, "total")]},
                        index=pd.Index([*COLORS, "total"], name="term"))


def breakdown_html(name: str, terms: dict, cache_type: str, mix: str = "Q4_K_M") -> str:
    """An HTML table (MiB, 2**20 bytes) of the terms (:func:`breakdown_table`) with a stacked bar of their shares."""
    table = breakdown_table(terms)
    bar = "".join(f"<div title='{k}' style='display:inline-block;height:14px;background:{c};"
                  f"width:{400 * terms[k] / terms['total']:.1f}px'></div>" for k, c in COLORS.items())
    rows = "".join(f"<tr><td><span style='color:{c}'>■</span> {k}</td><td style='text-align:right'>"
                   f"{table.at[k, 'MiB']:,.1f}</td><td style='text-align:right'>{table.at[k, 'share (%)']}%</td></tr>"
                   for k, c in COLORS.items())
    note = " (flash attention on: llama.cpp needs it for a quantized V cache)" if cache_type != "f16" else ""
    return (f"<p><b>{html.escape(name)}</b>, weights {mix}, {terms['context']:,} tokens, KV cache "
            f"{cache_type}{note}</p><div>{bar}</div><table><tr><th>term</th><th>MiB</th><th>share</th></tr>"
            f"{rows}<tr><td><b>total</b></td><td style='text-align:right'><b>{table.at['total', 'MiB']:,.1f}</b></td>"
            f"<td></td></tr></table>")


def context_memory_app(architectures: dict, model: str = None, mix: str = "Q4_K_M"):
    """Dropdowns for model and KV cache type and a context slider; the breakdown redraws in an HTML widget.

    ``architectures``: {name: Architecture}.
    """
    import ipywidgets as w

    if not architectures:
        raise ValueError("architectures must name at least one model")
    names = list(architectures)
    pick = w.Dropdown(options=names, value=model if model in architectures else names[0], description="model")
    context = w.SelectionSlider(options=list(CONTEXTS), value=DEFAULT_CONTEXT, description="context")
    cache = w.Dropdown(options=list(CACHE_TYPES), value=DEFAULT_CACHE_TYPE, description="KV cache")
    table = w.HTML()

    def redraw(_=None):
        arch = architectures[pick.value]
        terms = context_breakdown(arch, context.value, cache.value, mix)
        capped = (f"<p>capped at the model's trained context, {arch.max_context:,} tokens</p>"
                  if context.value > arch.max_context else "")
        table.value = capped + breakdown_html(pick.value, terms, cache.value, mix)

    for control in (pick, context, cache):
        control.observe(redraw, names="value")
    redraw()
    return w.VBox([w.HBox([pick, cache]), context, table])
