import os
import signal

import numpy as np
import pytest
from gguf import GGUFWriter

from helpers.llm.chat_model import chat_model_path
from helpers.serving.client import chat_body, complete, list_models
from helpers.serving.server import ServerSettings, ServerStartError, free_port, is_loopback, port_is_open, server_command, start_server


def _settings(**kwargs):
    return ServerSettings(chat_model_path(), model_alias="smollm2", n_ctx=512, n_threads=1, **kwargs)


def test_settings_refuse_bad_values():
    with pytest.raises(ValueError, match="unknown server kind 'ollama'"):
        _settings(kind="ollama")
    with pytest.raises(ValueError, match="n_ctx must be a positive whole number, got 0"):
        ServerSettings(chat_model_path(), n_ctx=0)
    with pytest.raises(ValueError, match="parallel slots need kind='llama-server'"):
        _settings(parallel=4)
    with pytest.raises(ValueError, match="must split evenly"):
        ServerSettings(chat_model_path(), kind="llama-server", n_ctx=1000, parallel=3)
    with pytest.raises(ValueError, match="'0.0.0.0' is not a loopback address"):
        _settings(host="0.0.0.0")


def test_loopback_only_by_default():
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.10") and not is_loopback("example.org")
    assert ServerSettings(chat_model_path(), host="0.0.0.0", allow_remote=True).host == "0.0.0.0"


def test_command_lines_carry_the_settings():
    cmd = server_command(_settings(), 8123)
    assert cmd[1:3] == ["-m", "llama_cpp.server"]
    assert cmd[cmd.index("--port") + 1] == "8123" and cmd[cmd.index("--host") + 1] == "127.0.0.1"
    assert cmd[cmd.index("--n_ctx") + 1] == "512" and cmd[cmd.index("--model_alias") + 1] == "smollm2"


def test_start_answers_then_stop_leaves_nothing(tmp_path):
    with start_server(_settings(), log_dir=tmp_path) as server:
        assert server.running() and port_is_open("127.0.0.1", server.port)
        assert server.base_url == f"http://127.0.0.1:{server.port}/v1"
        assert list_models(server.base_url) == ["smollm2"]
        assert server.command_line().startswith(f"python -m llama_cpp.server --model {chat_model_path().name} ")
        assert f"--port {server.port}" in server.command_line() and "--interrupt_requests False" in server.command_line()
        reply = complete(server.base_url, chat_body([{"role": "user", "content": "Hi"}], "smollm2", max_tokens=4))
        assert reply["usage"]["completion_tokens"] <= 4
    assert not server.running()
    assert not port_is_open("127.0.0.1", server.port)
    with pytest.raises(ProcessLookupError):
        os.kill(server.pid, 0)
    assert server.log_path.read_text()  # the server's own log was kept


def test_interrupt_inside_the_block_still_stops_the_server(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        with start_server(_settings(), log_dir=tmp_path) as server:
            raise KeyboardInterrupt
    assert not server.running() and not port_is_open("127.0.0.1", server.port)


def test_a_server_that_ignores_sigterm_is_killed(tmp_path):
    server = start_server(_settings(), log_dir=tmp_path)
    os.killpg(server.pid, signal.SIGSTOP)  # a stopped process cannot act on SIGTERM
    server.stop(timeout_s=1)
    assert not server.running() and server.process.returncode == -signal.SIGKILL


def test_a_model_llama_cpp_cannot_load_fails_with_the_log_tail(tmp_path):
    path = tmp_path / "unknown-arch.gguf"
    writer = GGUFWriter(str(path), "no-such-architecture")
    writer.add_tensor("token_embd.weight", np.zeros((4, 8), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    with pytest.raises(ServerStartError, match="exited with code") as err:
        start_server(ServerSettings(path, n_ctx=256), log_dir=tmp_path, timeout_s=60)
    assert "no-such-architecture" in str(err.value)  # llama.cpp's own complaint, from the log


def test_a_corrupt_file_is_refused_before_any_process_starts(tmp_path):
    path = tmp_path / "not-a-model.gguf"
    path.write_bytes(b"<!DOCTYPE html><html>Entry not found</html>" * 10)
    with pytest.raises(ValueError, match="not-a-model.gguf"):
        start_server(ServerSettings(path), log_dir=tmp_path)
    assert not list(tmp_path.glob("*.log"))


def test_free_port_is_free():
    port = free_port()
    assert 1024 <= port <= 65535 and not port_is_open("127.0.0.1", port)
