"""Catalogs: every row valid and sourced, unknown names answered with close matches."""
import pytest

from helpers.course.catalog import (
    get_gpu,
    get_model,
    load_gpus,
    load_models,
    load_published_sizes,
    load_quant_types,
    suggest,
)
from helpers.memory.architecture import parameter_count


def test_models_catalog_has_the_popular_local_models_with_sources():
    models = load_models()
    assert len(models) >= 20
    for name in ("Llama 3.1 8B", "Qwen2.5 72B", "Mixtral 8x7B", "Gemma 2 27B", "Phi-3.5 mini", "SmolLM2 135M"):
        assert name in models
    assert all(m.source.startswith("https://") for m in models.values())


def test_parameter_counts_computed_from_the_architecture_match_the_model_cards():
    for model in load_models().values():
        computed = parameter_count(model.architecture) / 1e9
        assert computed == pytest.approx(model.params_published_b, rel=0.01), model.name


def test_gpu_catalog_covers_discrete_unified_and_cpu():
    gpus = load_gpus()
    assert len(gpus) >= 25
    assert {g.kind for g in gpus.values()} == {"discrete", "unified", "cpu"}
    assert get_gpu("RTX 3090").memory_bytes == 24 * 2**30
    assert get_gpu("rtx 4090").bandwidth_gbps == 1008  # case and spacing are forgiven


def test_unknown_names_get_close_matches():
    with pytest.raises(ValueError, match="did you mean 'Llama 3.1 8B'"):
        get_model("Lama 3.1 8B")
    with pytest.raises(ValueError, match="did you mean 'RTX 3090'"):
        get_gpu("RTX 3900")
    assert get_gpu("RTX 309").name == "RTX 3090" and get_gpu("3060").name == "RTX 3060 12GB"  # the one name it starts
    with pytest.raises(ValueError, match="'RTX 4060 8GB' or 'RTX 4060 Ti 16GB'"):
        get_gpu("4060")  # two names start with it: which one is for the learner to say
    assert "choose one of" in suggest("zzzz", ["a", "b"])


def test_quant_types_and_published_sizes_load_with_sources():
    assert {"Q4_K", "Q8_0", "IQ4_XS", "F16", "BF16"} <= set(load_quant_types())
    rows = load_published_sizes()
    assert all(r["source"] for r in rows) and all(isinstance(r["imatrix"], bool) for r in rows)
