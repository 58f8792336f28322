"""The curated list: every size has a source, revisions are pinned where known, and the will-it-run
lines come from the course's estimators."""
import json

import pytest

from helpers.course.catalog import get_model
from helpers.hub import curated
from helpers.hub.curated import COMMON_MACHINES, curated_table, listed_bytes, load_curated, will_it_run_line
from helpers.memory.willitrun import assess


def test_listed_sizes_parse_in_decimal_units():
    assert listed_bytes("398 MB") == 398_000_000 and listed_bytes("1.93 GB") == 1_930_000_000
    assert listed_bytes("1.87 kB") == 1870
    for bad in ("1.93GB", "1.93 GiB", "", "big"):
        with pytest.raises(ValueError, match="listed size"):
            listed_bytes(bad)


def test_every_entry_has_a_source_and_a_pinned_or_flagged_revision():
    models = load_curated()
    names = {m.name for m in models}
    assert {"Qwen2.5 0.5B Instruct", "Qwen2.5 1.5B Instruct", "Qwen2.5 3B Instruct", "Qwen2.5 7B Instruct",
            "Llama 3.2 1B Instruct", "Llama 3.2 3B Instruct", "SmolLM2 1.7B Instruct"} <= names
    for m in models:
        assert all(source.startswith("https://huggingface.co/") for _, _, source in m.files), m.name
        pinned = len(m.revision) == 40 and all(c in "0123456789abcdef" for c in m.revision)
        assert pinned or "not pinned" in m.unverified, m.name
        assert all(f.revision == m.revision for f in m.hub_files())


def test_text_models_exist_in_the_catalog_and_their_predicted_size_is_near_the_listing():
    for m in (m for m in load_curated() if m.kind == "text"):
        predicted = assess(get_model(m.estimator_model).architecture, m.quant, 4096, gpu_budget_bytes=0).file_bytes
        assert abs(predicted / m.listed_bytes - 1) < 0.15, (m.name, predicted, m.listed_bytes)


def test_will_it_run_lines_are_computed_not_typed(tmp_path, monkeypatch):
    qwen7 = next(m for m in load_curated() if m.name == "Qwen2.5 7B Instruct")
    small = will_it_run_line(qwen7, "RTX 3060 12GB")
    assert small.startswith("yes") and "tokens/s" in small
    assert will_it_run_line(qwen7, "RTX 3070", context=32768).startswith("yes")  # with flash attention, as run
    # the line follows the data: a different quant in the file changes it
    data = json.loads(curated.CURATED_PATH.read_text())
    data["text"] = [dict(data["text"][3], quant="Q8_0")]
    data["images"] = []
    (tmp_path / "c.json").write_text(json.dumps(data))
    monkeypatch.setattr(curated, "CURATED_PATH", tmp_path / "c.json")
    q8 = curated.load_curated(tmp_path / "c.json")[0]
    assert will_it_run_line(q8, "RTX 3060 12GB") != small
    assert will_it_run_line(q8, "RTX 3070", context=32768).startswith("no")  # 8 GB of weights on an 8 GB card


def test_image_lines_use_the_image_estimator_or_say_there_is_none():
    sd15, turbo = (next(m for m in load_curated() if m.name.startswith(n)) for n in ("Stable Diffusion 1.5", "SD-Turbo"))
    assert will_it_run_line(sd15, "RTX 3060 12GB").startswith("yes: peak")
    assert will_it_run_line(turbo, "RTX 3060 12GB").startswith("no estimate")


def test_table_has_a_line_per_common_machine():
    rows = curated_table()
    assert len(rows) == len(load_curated())
    assert all(set(COMMON_MACHINES) <= set(row) for row in rows)
    assert all(row["listed GB"] > 0.3 for row in rows)


def test_an_entry_without_a_source_is_refused(tmp_path):
    data = json.loads(curated.CURATED_PATH.read_text())
    data["text"][0]["source"] = "somewhere"
    (tmp_path / "c.json").write_text(json.dumps(data))
    with pytest.raises(ValueError, match="no source URL"):
        load_curated(tmp_path / "c.json")
