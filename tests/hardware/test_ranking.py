"""Hardware ranking: fit, offload and budget rules."""
import pytest

from helpers.course.catalog import get_gpu, get_model
from helpers.hardware.ranking import assess_device, rank_devices

LLAMA_8B = get_model("Llama 3.1 8B").architecture
LLAMA_70B = get_model("Llama 3.1 70B").architecture


def test_small_model_fits_a_big_card_fully():
    o = assess_device(LLAMA_8B, "Q4_K_M", 4096, get_gpu("RTX 3090"))
    assert o.fits_entirely and o.n_gpu_layers == LLAMA_8B.n_layers + 1 and o.tokens_per_second > 50


def test_big_model_offloads_on_a_24gb_card_and_fits_a_big_mac():
    card = assess_device(LLAMA_70B, "Q4_K_M", 4096, get_gpu("RTX 3090"))
    assert not card.fits_entirely and 0 < card.n_gpu_layers < LLAMA_70B.n_layers
    mac = assess_device(LLAMA_70B, "Q4_K_M", 4096, get_gpu("Apple M2 Ultra 192GB"))
    assert mac.fits_entirely and mac.tokens_per_second > card.tokens_per_second
    small_mac = assess_device(LLAMA_70B, "Q4_K_M", 4096, get_gpu("Apple M1 16GB"))
    assert not small_mac.fits_entirely and small_mac.tokens_per_second == 0


def test_ranking_respects_budget_and_fit_and_is_sorted():
    ranked = rank_devices(LLAMA_8B, "Q4_K_M", 8192, budget_usd=1000, require_fit=True)
    assert ranked and all(o.price_usd <= 1000 and o.fits_entirely for o in ranked)
    speeds = [o.tokens_per_second for o in ranked]
    assert speeds == sorted(speeds, reverse=True)
    assert ranked[0].tokens_per_second_per_1000_usd == pytest.approx(ranked[0].tokens_per_second / ranked[0].price_usd * 1000)
    with pytest.raises(ValueError, match="budget"):
        rank_devices(LLAMA_8B, "Q4_K_M", 8192, budget_usd=0)
