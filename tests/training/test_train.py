"""Training utilities: batches, schedule, a short seeded run that lowers the loss."""
import re

import numpy as np
import pytest
import torch

from helpers.training import train as train_llm
from helpers.training.tiny_llama import LlamaConfig, TinyLlama
from helpers.training.tokenizer import BOS, train_spm_bpe


def test_random_batch_targets_are_inputs_shifted():
    stream = np.arange(100)
    x, y = train_llm.random_batch(stream, 4, 10, np.random.default_rng(0))
    assert x.shape == (4, 10)
    assert torch.equal(x[:, 1:], y[:, :-1])


def test_random_batch_refuses_short_stream():
    with pytest.raises(ValueError, match="too short"):
        train_llm.random_batch(np.arange(5), 2, 10, np.random.default_rng(0))


def test_lr_schedule_warms_up_then_decays():
    s = train_llm.TrainSettings(steps=100, batch_size=1, seq_len=4, lr=1.0, warmup=10)
    lrs = [train_llm.lr_at(i, s) for i in range(100)]
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0)
    assert lrs[99] == pytest.approx(0.1, abs=0.01) and all(a >= b for a, b in zip(lrs[10:], lrs[11:]))


def test_speeches_start_with_bos():
    vocab, _ = train_spm_bpe("A:\nhi there\n\nB:\nho\n", vocab_size=270, min_char_count=1)
    ids = train_llm.speeches_to_ids("A:\nhi there\n\nB:\nho\n", vocab, speeches_per_chunk=1)
    assert ids[0] == BOS and list(ids).count(BOS) == 2
    joined = train_llm.speeches_to_ids("A:\nhi there\n\nB:\nho\n", vocab, speeches_per_chunk=2)
    assert list(joined).count(BOS) == 1
    assert vocab.decode(joined) == " A:\nhi there\n\nB:\nho\n\n"  # no space before B


def test_short_seeded_training_lowers_loss_and_repeats():
    text = "to be or not to be that is the question\n" * 200
    vocab, _ = train_spm_bpe(text, vocab_size=300, min_char_count=1)
    ids = train_llm.speeches_to_ids(text, vocab)
    cfg = LlamaConfig(vocab_size=300, d_model=32, n_layer=1, n_head=2, n_kv_head=1, d_ff=64, n_ctx=32)
    s = train_llm.TrainSettings(steps=30, batch_size=4, seq_len=16, warmup=3, eval_every=10)
    runs = []
    for _ in range(2):
        torch.manual_seed(s.seed)
        hist = train_llm.train(TinyLlama(cfg), ids, ids, s, progress=False)
        runs.append(hist["loss"])
    assert runs[0] == runs[1]
    assert np.mean(runs[0][-5:]) < runs[0][0] - 1.0


def test_unknown_preset_named(tmp_path):
    with pytest.raises(ValueError, match="'huge'"):
        train_llm.run("huge", tmp_path)


@pytest.mark.parametrize("field, value", [("steps", 0), ("steps", -3), ("steps", 2.5), ("batch_size", "16"),
                                          ("seq_len", True), ("warmup", -1), ("lr", 0.0), ("eval_every", 0)])
def test_settings_refuse_bad_values_by_name(field, value):
    kwargs = {"steps": 40, "batch_size": 16, "seq_len": 64, field: value}
    with pytest.raises(ValueError, match=rf"^{field} must be .*got {re.escape(repr(value))}$"):
        train_llm.TrainSettings(**kwargs)
