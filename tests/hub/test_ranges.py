"""Hub addresses and range reads: where a file lives, bytes counted, refusals in one line."""
import socket
import urllib.error
import urllib.request

import pytest

from helpers.course import offline
from helpers.hub import ranges
from helpers.hub.ranges import (
    HubError,
    HubFile,
    OfflineError,
    RangesIgnoredError,
    Transfer,
    file_name_of,
    get_bytes,
    head_headers,
    hub_endpoint,
    parse_hub_spec,
    read_range,
    resolve_url,
)

REPO = "course/ranges"


@pytest.fixture
def served(fake_hub, tmp_path):
    path = tmp_path / "blob.gguf"
    path.write_bytes(bytes(range(256)) * 40)
    fake_hub.add(REPO, "blob.gguf", path)
    return fake_hub, path


def test_hub_spec_parses_with_and_without_revision():
    assert parse_hub_spec("owner/repo:dir/file.gguf") == HubFile("owner/repo", "dir/file.gguf", "main")
    assert parse_hub_spec("o-1/r.x_y:f.gguf@abc123") == HubFile("o-1/r.x_y", "f.gguf", "abc123")
    for bad in ("repo:file.gguf", "owner/repo", "owner/repo:", "", "a/b/c:f.gguf"):
        with pytest.raises(ValueError, match="owner/repo:file.gguf"):
            parse_hub_spec(bad)


def test_endpoint_explicit_then_environment_then_default(monkeypatch):
    monkeypatch.delenv("HF_ENDPOINT", raising=False)
    assert hub_endpoint() == "https://huggingface.co"
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9/")
    assert hub_endpoint() == "http://127.0.0.1:9"
    assert hub_endpoint("https://mirror.example/") == "https://mirror.example"
    with pytest.raises(ValueError, match="http:// or https://"):
        hub_endpoint("file:///etc")


def test_resolve_url_is_the_hubs_layout():
    url = resolve_url(HubFile("Qwen/Qwen2.5-0.5B-Instruct-GGUF", "sub dir/q4.gguf", "refs/pr/1"), "https://hf.test")
    assert url == "https://hf.test/Qwen/Qwen2.5-0.5B-Instruct-GGUF/resolve/refs%2Fpr%2F1/sub%20dir/q4.gguf"
    assert file_name_of(url) == "q4.gguf"


def test_range_read_counts_bytes_and_gives_the_length(served):
    hub, path = served
    transfer = Transfer()
    data, total = read_range(resolve_url(HubFile(REPO, "blob.gguf")), 10, 19, transfer)
    assert data == path.read_bytes()[10:20] and total == path.stat().st_size
    assert transfer.bytes_received == 10 == hub.bytes_sent and transfer.requests == 1
    tail, _ = read_range(resolve_url(HubFile(REPO, "blob.gguf")), total - 5, total + 100, transfer)
    assert tail == path.read_bytes()[-5:]


def test_range_past_the_end_and_missing_files_are_clear(served):
    with pytest.raises(HubError, match="416"):
        read_range(resolve_url(HubFile(REPO, "blob.gguf")), 10**6, 10**6 + 1, Transfer())
    with pytest.raises(HubError, match="404.*revision"):
        read_range(resolve_url(HubFile(REPO, "nothing.gguf")), 0, 1, Transfer())
    with pytest.raises(ValueError, match="start <= end"):
        read_range("http://127.0.0.1:9/x", 5, 1, Transfer())


def test_server_ignoring_ranges_is_refused(served):
    hub, _ = served
    hub.ignore_ranges = True
    with pytest.raises(RangesIgnoredError, match="answered 200"):
        read_range(resolve_url(HubFile(REPO, "blob.gguf")), 0, 9, Transfer())


def test_head_does_not_follow_the_redirect(served):
    hub, _ = served
    headers = head_headers(resolve_url(HubFile(REPO, "blob.gguf")), Transfer())
    assert headers["x-linked-etag"].strip('"') == hub.sha256(REPO, "blob.gguf") and "location" in headers


def test_small_files_are_read_whole_with_a_limit(fake_hub, tmp_path):
    (tmp_path / "model_index.json").write_text('{"unet": ["diffusers", "UNet2DConditionModel"]}')
    fake_hub.add(REPO, "model_index.json", tmp_path / "model_index.json")
    url = resolve_url(HubFile(REPO, "model_index.json"))
    assert b"unet" in get_bytes(url, Transfer())
    with pytest.raises(HubError, match="not a small metadata file"):
        get_bytes(url, Transfer(), limit=10)


def test_connection_refused_is_offline_in_one_line():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(OfflineError, match=r"cannot reach 127\.0\.0\.1:\d+ \(connection refused\): offline\?") as err:
        read_range(f"http://127.0.0.1:{port}/x.gguf", 0, 9, Transfer())
    assert "\n" not in str(err.value)


def test_dns_failure_is_offline(monkeypatch):
    def no_dns(*args, **kwargs):
        raise urllib.error.URLError(socket.gaierror(-2, "Name or service not known"))

    monkeypatch.setattr(urllib.request, "urlopen", no_dns)
    with pytest.raises(OfflineError, match="does not resolve"):
        read_range("https://huggingface.co/x/y/resolve/main/z.gguf", 0, 9, Transfer())


def test_requests_lift_the_course_guard_and_restore_it(monkeypatch):
    seen = []

    def record(*args, **kwargs):
        seen.append(offline.network_blocked())
        raise urllib.error.URLError(ConnectionRefusedError())

    monkeypatch.setattr(urllib.request, "urlopen", record)
    was_blocked = offline.network_blocked()
    offline.block_network()
    try:
        with pytest.raises(OfflineError):
            ranges.read_range("https://huggingface.co/x/y/resolve/main/z.gguf", 0, 9, Transfer())
        assert seen == [False] and offline.network_blocked()
    finally:
        if not was_blocked:
            offline.allow_network()
