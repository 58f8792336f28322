"""The notebook-05 context memory widget redraws when a control moves (no browser needed)."""
import pytest

from helpers.course.catalog import get_model
from helpers.memory.vram import kv_cache_bytes
from helpers.widgets.context import (
    DEFAULT_CACHE_TYPE,
    DEFAULT_CONTEXT,
    breakdown_html,
    breakdown_table,
    context_breakdown,
    context_memory_app,
)

ARCHS = {m: get_model(m).architecture for m in ("Qwen2.5 0.5B", "Llama 3.1 8B")}


def test_breakdown_terms_add_up_and_kv_matches_estimator():
    arch = ARCHS["Llama 3.1 8B"]
    terms = context_breakdown(arch, 8192, "f16")
    assert terms["KV cache"] == kv_cache_bytes(arch, 8192) == 2**30
    assert terms["total"] == terms["weights"] + terms["KV cache"] + terms["compute buffer"]
    assert context_breakdown(arch, 8192, "q8_0")["KV cache"] < terms["KV cache"]
    assert context_breakdown(ARCHS["Qwen2.5 0.5B"], 131072)["context"] == 32768  # capped at the trained maximum


def test_html_names_terms():
    text = breakdown_html("Llama 3.1 8B", context_breakdown(ARCHS["Llama 3.1 8B"], 8192), "f16")
    assert "KV cache" in text and "1,024.0" in text and "MiB" in text


def test_app_redraws():
    app = context_memory_app(ARCHS, model="Llama 3.1 8B")
    (pick, cache), context, table = app.children[0].children, app.children[1], app.children[2]
    first = table.value
    context.value = 16384
    assert table.value != first and "16,384 tokens" in table.value
    second = table.value
    cache.value = "q4_0"
    assert table.value != second and "flash attention" in table.value
    pick.value = "Qwen2.5 0.5B"
    assert "Qwen2.5 0.5B" in table.value


def test_breakdown_table_is_the_widget_view_in_mib():
    terms = context_breakdown(ARCHS["Llama 3.1 8B"], DEFAULT_CONTEXT, DEFAULT_CACHE_TYPE)
    table = breakdown_table(terms)
    assert list(table.index) == ["weights", "KV cache", "compute buffer", "total"]
    assert table.at["KV cache", "MiB"] == 512.0  # 4,096 tokens of f16 cache: 128 KiB per token
    assert table.at["total", "share (%)"] == 100
    assert table.at["total", "MiB"] == pytest.approx(table["MiB"][:3].sum(), abs=0.15)
    app = context_memory_app(ARCHS, model="Llama 3.1 8B")
    assert f"{table.at['total', 'MiB']:,.1f}" in app.children[2].value  # the widget shows the same numbers
