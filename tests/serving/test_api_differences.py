import pytest

from helpers.serving.api_differences import COLUMNS, load_openai_servers


def test_every_server_row_is_complete_and_sourced():
    rows = load_openai_servers()
    assert {r["server"] for r in rows} >= {"llama-cpp-python server", "llama.cpp llama-server", "Ollama", "LM Studio", "vLLM"}
    for r in rows:
        assert r["default_base_url"].endswith("/v1") and r["source"].startswith("https://")


def test_a_row_without_a_source_is_refused(tmp_path):
    bad = tmp_path / "servers.csv"
    bad.write_text(",".join(COLUMNS) + "\n" + "X,v1,2026-12-01,http://localhost:1/v1,m,c,s,b,\n")
    with pytest.raises(ValueError, match=r"line 2: empty or missing \['source'\]"):
        load_openai_servers(bad)
    bad.write_text(",".join(COLUMNS) + "\n" + "X,v1,2026-12-01,localhost:1,m,c,s,b,https://x\n")
    with pytest.raises(ValueError, match="default_base_url must be a URL, got 'localhost:1'"):
        load_openai_servers(bad)
    bad.write_text(",".join(COLUMNS) + "\n" + "X,v1,Dec 2026,http://localhost:1/v1,m,c,s,b,https://x\n")
    with pytest.raises(ValueError, match="checked must be a date as YYYY-MM-DD, got 'Dec 2026'"):
        load_openai_servers(bad)


def test_vllm_row_names_the_current_structured_output_field():
    vllm = next(r for r in load_openai_servers() if r["server"] == "vLLM")
    assert "structured_outputs" in vllm["structured_output"] and "ignored" in vllm["structured_output"]
