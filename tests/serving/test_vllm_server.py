"""vLLM as the third server: its settings, the converted weights, and one real server on loopback.

The live tests need vLLM's own environment (.venv-vllm, `make vllm-env`); without it they are skipped.
One vLLM server is started for all of them (it needs 1 to 3 minutes to be ready on 2 cores).
"""
import json
from pathlib import Path

import numpy as np
import pytest
from gguf.quants import dequantize
from safetensors import safe_open

from helpers.gguf.header import open_checked, read_header
from helpers.llm.chat_model import chat_model_path, model_card
from helpers.serving.client import chat_body, complete, list_models, post_json, reply_text, stream_text
from helpers.serving.constraint_fields import check_constraint_fields, ignored_fields
from helpers.serving.server import ServerSettings, ServerStartError, port_is_open, server_command, server_env, start_server
from helpers.serving.vllm_weights import hf_model_dir

ALIAS = "smollm2"
HF_NAMES = {"attn_norm": "input_layernorm", "ffn_norm": "post_attention_layernorm", "attn_q": "self_attn.q_proj",
            "attn_k": "self_attn.k_proj", "attn_v": "self_attn.v_proj", "attn_output": "self_attn.o_proj",
            "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj", "ffn_down": "mlp.down_proj"}


def hf_tensor_name(gguf_name: str) -> str:
    """llama.cpp's tensor name -> Hugging Face's: blk.3.attn_q.weight -> model.layers.3.self_attn.q_proj.weight."""
    if gguf_name.startswith("blk."):
        _, block, part, kind = gguf_name.split(".")
        return f"model.layers.{block}.{HF_NAMES[part]}.{kind}"
    return {"token_embd.weight": "model.embed_tokens.weight", "output_norm.weight": "model.norm.weight"}[gguf_name]


def test_vllm_settings_refuse_what_it_does_not_have():
    folder = Path("build/vllm/model")
    with pytest.raises(ValueError, match="parallel=4: vLLM has no fixed slots"):
        ServerSettings(folder, kind="vllm", parallel=4)
    with pytest.raises(ValueError, match="kv_cache_gib must be a positive number of GiB, got 0"):
        ServerSettings(folder, kind="vllm", kv_cache_gib=0)
    with pytest.raises(ValueError, match="start_timeout_s must be a positive number"):
        ServerSettings(folder, kind="vllm", start_timeout_s=0)


def test_vllm_command_line_and_environment():
    settings = ServerSettings(Path("build/vllm/model"), kind="vllm", model_alias=ALIAS, n_ctx=1024, kv_cache_gib=0.25)
    cmd = server_command(settings, 8123)
    assert cmd[0].endswith(".venv-vllm/bin/python") and cmd[1:3] == ["-m", "vllm.entrypoints.openai.api_server"]
    assert cmd[cmd.index("--model") + 1] == "build/vllm/model" and cmd[cmd.index("--port") + 1] == "8123"
    assert cmd[cmd.index("--max-model-len") + 1] == "1024" and cmd[cmd.index("--dtype") + 1] == "bfloat16"
    assert cmd[cmd.index("--served-model-name") + 1] == ALIAS and cmd[cmd.index("--host") + 1] == "127.0.0.1"
    assert cmd[cmd.index("--kv-cache-memory-bytes") + 1] == str(2**28)
    assert "VLLM_CPU_KVCACHE_SPACE" not in server_env(settings) and server_env(settings)["HF_HUB_OFFLINE"] == "1"
    assert server_env(ServerSettings(chat_model_path())) is None


def test_vllm_refuses_a_gguf_file_and_a_bare_folder(tmp_path):
    with pytest.raises(ValueError, match="is a GGUF file: the course starts vLLM on a Hugging Face folder"):
        start_server(ServerSettings(chat_model_path(), kind="vllm"), log_dir=tmp_path)
    with pytest.raises(ValueError, match="is not a Hugging Face model folder"):
        start_server(ServerSettings(tmp_path, kind="vllm"), log_dir=tmp_path)
    assert not list(tmp_path.glob("*.log"))  # no process was started


@pytest.fixture(scope="module")
def hf_dir():
    return hf_model_dir()


@pytest.fixture(scope="module")
def vllm_server(hf_dir, tmp_path_factory):
    # --enforce-eager skips the torch.compile warm-up: ready in about 35 s instead of about 2 minutes on 2 cores
    settings = ServerSettings(hf_dir, kind="vllm", model_alias=ALIAS, n_ctx=1024, extra_args=("--enforce-eager",))
    with start_server(settings, log_dir=tmp_path_factory.mktemp("vllm-logs")) as server:
        yield server
    assert not server.running() and not port_is_open("127.0.0.1", server.port)


@pytest.fixture(scope="module")
def llama():
    from llama_cpp import Llama

    return Llama(str(chat_model_path()), n_ctx=256, n_threads=1, verbose=False)


@pytest.mark.vllm
def test_converted_folder_matches_the_gguf(hf_dir):
    gguf_path = chat_model_path()
    header, reader = read_header(gguf_path), open_checked(gguf_path)
    config = json.loads((hf_dir / "config.json").read_text())
    assert (config["num_hidden_layers"], config["hidden_size"], config["intermediate_size"]) == (
        header.n_layers, header.hidden, header.ffn)
    assert (config["num_attention_heads"], config["num_key_value_heads"], config["head_dim"]) == (
        header.n_heads, header.n_kv_heads, header.head_dim)
    assert (config["vocab_size"], config["max_position_embeddings"]) == (header.vocab, header.context_length)
    assert config["rope_parameters"]["rope_theta"] == model_card()["architecture"]["rope_base"]
    assert config["tie_word_embeddings"] == (not header.has_output_weight)
    gguf_tensors = {t.name: t for t in reader.tensors}
    with safe_open(hf_dir / "model.safetensors", framework="numpy") as weights:
        assert sorted(weights.keys()) == sorted(hf_tensor_name(name) for name in gguf_tensors)
        for name, tensor in gguf_tensors.items():  # GGUF lists dimensions fastest first, numpy slowest first
            assert weights.get_slice(hf_tensor_name(name)).get_shape() == [int(n) for n in reversed(tensor.shape)]
        for name in ("token_embd.weight", "blk.0.ffn_down.weight"):  # Q8_0 and Q4_1 blocks, dequantized as they are
            tensor = gguf_tensors[name]
            assert np.array_equal(weights.get_tensor(hf_tensor_name(name)), dequantize(tensor.data, tensor.tensor_type))


@pytest.mark.vllm
def test_vllm_serves_the_alias_and_answers(vllm_server):
    assert list_models(vllm_server.base_url) == [ALIAS]
    body = chat_body([{"role": "user", "content": "What is the capital of France?"}], ALIAS, max_tokens=24)
    reply = complete(vllm_server.base_url, body)
    assert reply_text(reply).strip() and 0 < reply["usage"]["completion_tokens"] <= 24
    assert "".join(stream_text(vllm_server.base_url, body)) == reply_text(reply)


@pytest.mark.vllm
def test_vllm_reads_prompts_as_llama_cpp_does(vllm_server, llama):
    for prompt in ("The capital of France is", "def fibonacci(n):\n    return",
                   "<|im_start|>user\nWhat is 2 plus 2?<|im_end|>\n<|im_start|>assistant\n"):
        tokens = post_json(f"{vllm_server.url}/tokenize", {"model": ALIAS, "prompt": prompt})["tokens"]
        assert tokens == llama.tokenize(prompt.encode(), add_bos=False, special=True)


@pytest.mark.vllm
def test_greedy_answers_start_like_llama_cpp(vllm_server, llama):
    """Same weights, other arithmetic (bfloat16 against llama.cpp's 8-bit activations): greedy texts part
    where two next tokens are nearly tied, but not on the first tokens of a confident answer."""
    prompt = "The capital of France is"
    reply = post_json(f"{vllm_server.base_url}/completions", {"model": ALIAS, "prompt": prompt, "max_tokens": 3,
                                                               "temperature": 0})
    expected = llama.create_completion(prompt, max_tokens=3, temperature=0)
    assert reply["choices"][0]["text"] == expected["choices"][0]["text"]


@pytest.mark.vllm
@pytest.mark.parametrize("kind, constraint", [("choice", ("yes", "no")), ("regex", r"[0-9]{3}")])
def test_removed_guided_fields_are_accepted_and_ignored(vllm_server, kind, constraint):
    current, removed = check_constraint_fields(vllm_server.base_url, ALIAS, kind, constraint)
    assert current.field == "structured_outputs" and current.status == 200 and current.followed
    assert removed.field == f"guided_{kind}" and removed.status == 200 and not removed.followed
    assert ignored_fields([current, removed]) == [f"guided_{kind}"]
    assert "removed guided-decoding field" in vllm_server.log_path.read_text()


@pytest.mark.vllm
def test_an_unknown_flag_is_refused_in_plain_words(hf_dir, tmp_path):
    settings = ServerSettings(hf_dir, kind="vllm", extra_args=("--no-such-flag",))
    with pytest.raises(ServerStartError, match="vLLM refused a command-line flag it does not know"):
        start_server(settings, log_dir=tmp_path)
