"""Published speeds: every row sourced and known, each set beside the estimate at its own context."""
import pytest

from helpers.course.catalog import get_gpu, get_model
from helpers.hardware.published_speeds import check_published, load_published_speeds
from helpers.hardware.roofline import generation_tokens_per_second

HEADER = ("device,model,mix,context_note,mean_context_tokens,n_gpu_layers,tokens_per_second,engine,date,note,"
          "source\n")


def test_every_row_is_sourced_and_the_3090_llama_bench_run_is_there():
    rows = load_published_speeds()
    assert all(r.source.startswith("https://") and r.tokens_per_second > 0 for r in rows)
    bench = {r.test: r for r in rows if r.device == "RTX 3090" and r.is_benchmark}
    assert {t: r.mean_context_tokens for t, r in bench.items()} == {"tg512": 256, "tg1024": 512, "tg4096": 2048,
                                                                     "tg8192": 4096}
    assert bench["tg512"].tokens_per_second == 115.42 and "4426e298" in bench["tg512"].engine
    chat = [r for r in rows if r.test == "chat"]
    assert chat and all(r.mean_context_tokens is None for r in chat)


def test_each_check_uses_the_runs_own_context():
    checks = check_published()
    for c in checks:
        expected = generation_tokens_per_second(get_model(c.published.model).architecture, c.published.mix,
                                                c.published.mean_context_tokens or 0, get_gpu(c.published.device))
        assert c.estimate == pytest.approx(expected)
        assert c.ratio == pytest.approx(c.estimate / c.published.tokens_per_second)
    # the efficiency a run reached times the assumed one's ratio gives back the estimate's ratio
    for c in checks:
        assert c.efficiency_assumed / c.efficiency_reached == pytest.approx(c.ratio)


@pytest.mark.parametrize("row, match", [
    ("RTX 9999,Llama 3.1 8B,Q4_K_M,tg128,64,all,100,x,2024,x,https://x\n", "RTX 9999"),
    ("RTX 3090,Llama 3.1 8B,Q4_K_M,tg128,64,all,0,x,2024,x,https://x\n", "tokens_per_second > 0"),
    ("RTX 3090,Llama 3.1 8B,Q4_K_M,tg128,64,all,100,x,2024,x,\n", "https source"),
    ("RTX 3090,Llama 3.1 8B,Q4_K_M,tg128,64,20,100,x,2024,x,https://x\n", "n_gpu_layers 'all'"),
])
def test_bad_rows_are_refused_with_their_line(tmp_path, row, match):
    path = tmp_path / "speeds.csv"
    path.write_text(HEADER + row)
    with pytest.raises(ValueError, match=match):
        load_published_speeds(path)
