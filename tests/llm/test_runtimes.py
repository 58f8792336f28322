"""The same settings written for Ollama: a Modelfile and a REST request."""
import pytest

from helpers.llm.runtimes import SETTINGS_MAP, ollama_generate_request, ollama_modelfile


def test_modelfile_and_request_carry_the_settings():
    text = ollama_modelfile("some/dir/model.gguf", 4096, 8, -1, 0.7, 42, system="Be brief.",
                                      template="{{ .Prompt }}", stop=["\n\n"])
    lines = text.splitlines()
    assert lines[0] == "FROM ./model.gguf"
    assert {"PARAMETER num_ctx 4096", "PARAMETER num_thread 8", "PARAMETER num_gpu 999",
            "PARAMETER temperature 0.7", "PARAMETER seed 42", 'PARAMETER stop "\\n\\n"',
            'TEMPLATE """{{ .Prompt }}"""', 'SYSTEM """Be brief."""'} <= set(lines)
    with pytest.raises(ValueError, match="n_gpu_layers"):
        ollama_modelfile("m.gguf", 256, 2, -5, 0.0, 0)
    with pytest.raises(ValueError, match='"""'):
        ollama_modelfile("m.gguf", 256, 2, 0, 0.0, 0, system='say """')
    body = ollama_generate_request("m", "Hi", 256, 2, 10, 0.0, 1, 32)
    assert body["options"] == {"num_ctx": 256, "num_thread": 2, "num_gpu": 10, "temperature": 0.0,
                               "seed": 1, "num_predict": 32}
    assert set(SETTINGS_MAP) >= {"n_ctx", "n_threads", "n_batch", "n_gpu_layers", "seed"}
