"""Image-model memory: computed parameter counts, the memory model's shape, bad input, a real small model."""
import json

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.images import memory as im


def test_clip_formula_matches_pytorchs_own_transformer_layer():
    # A CLIP text layer has the same parameters as torch's TransformerEncoderLayer (q/k/v/out with
    # biases, two LayerNorms, a d -> f -> d MLP with biases): count one and compare with the formula.
    for d, f, heads in [(64, 256, 4), (768, 3072, 12)]:
        layer = torch.nn.TransformerEncoderLayer(d, heads, f)
        cfg = {"vocab_size": 10, "max_position_embeddings": 7, "hidden_size": d, "intermediate_size": f,
               "num_hidden_layers": 3, "projection_dim": None}
        embeddings_and_final_norm = (10 + 7) * d + 2 * d
        assert im.clip_text_params(cfg) == embeddings_and_final_norm + 3 * im.count_params(layer)
        assert im.clip_text_params({**cfg, "projection_dim": 5}) == im.clip_text_params(cfg) + 5 * d


@pytest.mark.parametrize("model", ["sd15", "sdxl"])
def test_computed_counts_agree_with_published(model):
    for row in im.parameter_table(model):
        assert abs(row["difference %"]) < 1.5, row  # SDXL's UNet: 2.567 B computed vs "2.6 B" published


def test_sdxl_adds_the_big_text_encoder_and_a_bigger_unet():
    assert im.components("sd15") == ["text_encoder", "unet", "vae"]
    assert "text_encoder_2" in im.components("sdxl")
    assert im.component_params("sdxl", "unet") > 2.5 * im.component_params("sd15", "unet")
    assert im.component_params("sdxl", "vae") == im.component_params("sd15", "vae")


def test_meta_build_uses_no_memory_and_counts_like_a_real_build():
    meta = im.build_module("unet", im.SMALL_UNET)
    real = im.build_module("unet", im.SMALL_UNET, device="cpu")
    assert all(p.is_meta for p in meta.parameters())
    assert im.count_params(meta) == im.count_params(real)
    assert sum(p.numel() * p.element_size() for p in real.half().parameters()) == 2 * im.count_params(meta)


def test_latents_are_8x_smaller_with_4_channels():
    assert im.latent_shape("sdxl", 1024, batch=2) == (2, 4, 128, 128)
    assert im.latent_shape("sd15", (512, 768)) == (1, 4, 64, 96)
    assert im.pixel_to_latent_ratio("sd15", 512) == 48


def test_attention_term_is_quadratic_in_tokens():
    cfg = im.find_model("sd15")["components"]["unet"]["config"]
    a = im.unet_activation(cfg, 32, 32, 1, 2, "naive").attention_scores
    b = im.unet_activation(cfg, 64, 64, 1, 2, "naive").attention_scores
    assert b == 16 * a  # 4x the tokens -> 16x the scores
    assert im.unet_activation(cfg, 64, 64, 1, 2, "sdpa").attention_scores == 0
    assert im.unet_activation(cfg, 64, 64, 1, 2, "naive", slices=2).attention_scores == b // 2


def test_sliced_attention_holds_half_the_heads_whatever_the_batch_and_the_attention_kind():
    cfg = im.find_model("sd15")["components"]["unet"]["config"]  # 8 heads: slices of 4
    one = im.unet_activation(cfg, 64, 64, 1, 2, "naive", slices=2).attention_scores
    assert one == 2 * 4 * (64 * 64) ** 2 * 2  # scores and probabilities, 4 heads, fp16
    assert im.unet_activation(cfg, 64, 64, 8, 2, "naive", slices=2).attention_scores == one
    assert im.unet_activation(cfg, 64, 64, 8, 2, "sdpa", slices=2).attention_scores == one
    assert im.unet_activation(cfg, 64, 64, 8, 2, "naive").attention_scores == 8 * 2 * one


def test_savers_lower_the_peak_where_they_should():
    base = im.estimate("sdxl", 1024, dtype="fp16")
    assert base.peak_phase == "VAE decode"  # force_upcast: SDXL's VAE decodes in fp32
    assert im.estimate("sdxl", 1024, savers=["vae_tiling"]).peak_bytes == base.peak_bytes  # tile = 1024 px
    assert im.estimate("sdxl", 2048, savers=["vae_tiling"]).peak_bytes < im.estimate("sdxl", 2048).peak_bytes
    model = im.estimate("sdxl", 1024, savers=["model_cpu_offload"])
    seq = im.estimate("sdxl", 1024, savers=["sequential_cpu_offload"])
    assert seq.peak_bytes < model.peak_bytes < base.peak_bytes
    naive = im.estimate("sd15", 1024, attention="naive")
    sliced = im.estimate("sd15", 1024, attention="naive", savers=["attention_slicing"])
    assert sliced.phase_bytes["denoising"] < naive.phase_bytes["denoising"]
    # with SDPA, slicing swaps the fused kernel for plain attention in slices: it costs memory
    sdpa_sliced = im.estimate("sd15", 1024, savers=["attention_slicing"])
    assert sdpa_sliced.phase_bytes["denoising"] > im.estimate("sd15", 1024).phase_bytes["denoising"]
    assert im.estimate("sd15", 512, batch=8, savers=["vae_slicing"]).peak_bytes < im.estimate("sd15", 512, batch=8).peak_bytes
    assert sum(base.parts.values()) == base.peak_bytes


def test_offload_moves_more_bytes_sequentially():
    once = im.offload_transfer_bytes("sdxl", "fp16", 30, "model_cpu_offload")
    assert once == sum(im.weight_bytes("sdxl", "fp16").values())
    assert im.offload_transfer_bytes("sdxl", "fp16", 30, "sequential_cpu_offload") > 10 * once


@pytest.mark.parametrize("kwargs, words", [
    ({"model": "sdxk"}, "did you mean 'sdxl'"),
    ({"resolution": 0}, "positive"),
    ({"resolution": -512}, "positive"),
    ({"resolution": 1001}, "multiple of 8"),
    ({"resolution": 100_000}, "above"),
    ({"batch": 10_000}, "batch"),
    ({"batch": 0}, "batch"),
    ({"dtype": "int4"}, "dtype"),
    ({"savers": ["vae_tilling"]}, "vae_tiling"),
    ({"savers": ["model_cpu_offload", "sequential_cpu_offload"]}, "not both"),
    ({"attention": "flash"}, "attention"),
])
def test_bad_input_is_refused_clearly(kwargs, words):
    with pytest.raises(ValueError, match=words):
        im.estimate(**kwargs)


def test_published_figures_load_with_sources():
    rows = im.load_published()
    assert rows and all(r["source"].startswith("http") for r in rows)
    assert all(r["setup"] in im.SETUPS and r["kind"] in im.PUBLISHED_KINDS for r in rows)


def test_published_comparison_judges_the_peak_of_the_sources_setup():
    for row, pub in zip(im.published_comparison(), im.load_published()):
        e = im.estimate(pub["model"], pub["resolution"], pub["batch"], pub["dtype"], vae_dtype=pub["vae_dtype"],
                        **im.SETUPS[pub["setup"]])
        assert row["estimated peak GiB"] == round(e.peak_gib, 2) and row["peak phase"] == e.peak_phase
        assert row["VAE decodes in"] == pub["vae_dtype"]
        assert row["estimate / published"] == round(e.peak_bytes / 1e9 / pub["vram_gb"], 2)


def test_a_bad_published_row_is_refused(tmp_path, monkeypatch):
    good = (im.DATA_DIR / "published_image_memory.csv").read_text(encoding="utf-8")
    header, first = good.splitlines()[:2]
    monkeypatch.setattr(im, "DATA_DIR", tmp_path)
    (tmp_path / "published_image_memory.csv").write_text(f"{header}\n{first.replace('all on GPU', 'on the moon')}\n")
    with pytest.raises(ValueError, match="line 2: setup 'on the moon'"):
        im.load_published()


def test_vae_dtype_follows_diffusers_unless_given():
    assert im.estimate("sdxl", 1024, dtype="fp16").vae_dtype == "fp32"  # force_upcast
    assert im.estimate("sd15", 512, dtype="fp16").vae_dtype == "fp16"  # no force_upcast
    assert im.estimate("sdxl", 1024, dtype="bf16").vae_dtype == "bf16"  # diffusers upcasts fp16 only
    upcast, half = im.estimate("sdxl", 1024), im.estimate("sdxl", 1024, vae_dtype="fp16")
    assert half.vae_dtype == "fp16"
    assert 2 * half.phase_parts["VAE decode"]["VAE decode"] == upcast.phase_parts["VAE decode"]["VAE decode"]
    assert half.phase_bytes["denoising"] == upcast.phase_bytes["denoising"]  # fp16 weights in both until decode
    with pytest.raises(ValueError, match="unknown dtype 'int8'"):
        im.estimate("sdxl", 1024, vae_dtype="int8")


def test_text_encoders_offloaded_leave_the_gpu_after_encoding():
    kept, off = im.estimate("sdxl", 1024), im.estimate("sdxl", 1024, text_encoders_offloaded=True)
    text = sum(b for c, b in im.weight_bytes("sdxl", "fp16").items() if c.startswith("text_encoder"))
    assert off.text_encoders_offloaded and not kept.text_encoders_offloaded
    assert off.phase_bytes["text encoding"] == kept.phase_bytes["text encoding"]
    for phase in ("denoising", "VAE decode"):
        assert kept.phase_bytes[phase] - off.phase_bytes[phase] == text


def test_setup_table_goes_from_plain_diffusers_down_to_sequential_offload():
    rows = im.setup_table("sdxl", 1024, "fp16", 8.0)
    assert rows[0]["setup"] == "diffusers, no savers" and rows[0]["peak GiB"] == round(im.estimate("sdxl", 1024).peak_gib, 2)
    assert [r["VAE decodes in"] for r in rows[:3]] == ["fp32", "fp16", "fp16"]
    assert rows[0]["peak GiB"] > rows[1]["peak GiB"] > rows[2]["peak GiB"]
    assert not rows[0]["fits 8 GiB"] and rows[-1]["fits 8 GiB"]


def test_catalogue_has_sources():
    data = json.loads((im.DATA_DIR / "image_models.json").read_text())
    for model in data["models"].values():
        for comp in model["components"].values():
            assert comp["source"].startswith("https://") and comp["published_source"]


@settings(max_examples=40, deadline=None)
@given(model=st.sampled_from(["sd15", "sdxl"]), r1=st.integers(1, 256), r2=st.integers(1, 256),
       batch=st.integers(1, 8), dtype=st.sampled_from(["fp16", "bf16"]),
       savers=st.lists(st.sampled_from(["attention_slicing", "vae_slicing", "vae_tiling", "sequential_cpu_offload"]),
                       unique=True), attention=st.sampled_from(["sdpa", "naive"]))
def test_more_pixels_never_need_less_and_fp16_never_more_than_fp32(model, r1, r2, batch, dtype, savers, attention):
    small, large = sorted((8 * r1, 8 * r2))
    a = im.estimate(model, small, batch, dtype, savers, attention)
    b = im.estimate(model, large, batch, dtype, savers, attention)
    assert a.peak_bytes <= b.peak_bytes
    assert b.peak_bytes <= im.estimate(model, large, batch, "fp32", savers, attention).peak_bytes


def test_small_model_measured_on_this_cpu():
    """A real forward pass of a small UNet: weight bytes exact; naive attention's measured peak near
    the estimate (the quadratic term dominates at 48x48 latents)."""
    got = im.measure_forward_peak("unet", im.SMALL_UNET, 48, 48, 1, "naive")
    assert got["weights_bytes"] == 4 * im.count_params(im.build_module("unet", im.SMALL_UNET))
    predicted = im.predicted_forward_peak("unet", im.SMALL_UNET, 48, 48, 1, "naive")
    assert 0.7 * predicted < got["peak_bytes"] < 1.6 * predicted


def test_allocator_peak_sees_a_known_allocation():
    """A pass that holds two 1-million-float tensors at once peaks at (at least) 8 MB, and the peak
    does not count what was allocated before the pass."""
    import torch

    before = torch.ones(3_000_000)
    n = 1_000_000

    def run():
        a = torch.ones(n)
        b = a * 2
        return float((a + b).sum())  # a + b: a third tensor alive with a and b

    peak = im.allocator_peak_bytes(run)
    assert 3 * 4 * n <= peak < 3 * 4 * n + 1_000_000
    del before


def test_small_vae_decode_measured_near_the_estimate():
    """The decoder's peak grows with the pixels (4x for 2x the side) and the estimate follows it."""
    small = im.measure_forward_peak("vae", im.SMALL_VAE, 64, 64)
    large = im.measure_forward_peak("vae", im.SMALL_VAE, 128, 128)
    assert 3.0 < large["peak_bytes"] / small["peak_bytes"] < 5.0
    predicted = im.predicted_forward_peak("vae", im.SMALL_VAE, 128, 128)
    assert 0.6 * predicted < large["peak_bytes"] < 1.6 * predicted


def test_measure_refuses_bad_input():
    with pytest.raises(ValueError, match="kind"):
        im.measure_forward_peak("clip", im.SMALL_UNET, 8, 8)
    with pytest.raises(ValueError, match="multiple of 2"):
        im.measure_forward_peak("vae", im.SMALL_VAE, 63, 63)


def test_command_line_json_matches_the_estimate(capsys):
    assert im.main(["--model", "sd15", "--resolution", "768", "--dtype", "fp32", "--saver", "vae_tiling", "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    want = im.estimate("sd15", 768, 1, "fp32", ("vae_tiling",))
    assert got["peak_bytes"] == want.peak_bytes and got["peak_phase"] == want.peak_phase
    assert sum(got["peak_parts_bytes"].values()) == got["peak_bytes"]


def test_command_line_refuses_bad_input_clearly(capsys):
    with pytest.raises(SystemExit):
        im.main(["--model", "sdx"])
    assert "did you mean 'sdxl'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        im.main(["--resolution", "1001"])
    assert "multiple of 8" in capsys.readouterr().err


def test_estimate_pipeline_takes_counts_as_given_and_needs_one_unet_and_one_vae():
    comps = im.find_model("sd15")["components"]
    parts = {name: im.PipelinePart(c["kind"], c["config"], 1000, 10) for name, c in comps.items()}
    e = im.estimate_pipeline(parts, 512, 1, "fp16", ("model_cpu_offload",))
    assert e.phase_parts["denoising"]["weights on GPU"] == 2000
    assert {p: sum(v.values()) for p, v in e.phase_parts.items()} == e.phase_bytes
    counted = {n: im.PipelinePart(c["kind"], c["config"], im.component_params("sd15", n), 0) for n, c in comps.items()}
    assert im.estimate_pipeline(counted, 512).phase_bytes == im.estimate("sd15", 512).phase_bytes  # no offload
    with pytest.raises(ValueError, match="one unet, one vae"):
        im.estimate_pipeline({n: p for n, p in parts.items() if n != "vae"}, 512)


def test_command_line_takes_the_vae_dtype_and_offloaded_text_encoders(capsys):
    assert im.main(["--model", "sdxl", "--vae-dtype", "fp16", "--text-encoders-offloaded", "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    want = im.estimate("sdxl", 1024, vae_dtype="fp16", text_encoders_offloaded=True)
    assert got["peak_bytes"] == want.peak_bytes and got["vae_dtype"] == "fp16" and got["text_encoders_offloaded"]
    with pytest.raises(SystemExit):
        im.main(["--vae-dtype", "int3"])
    assert "unknown dtype 'int3'" in capsys.readouterr().err
