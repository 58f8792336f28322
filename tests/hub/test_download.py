"""Verified downloads from a (fake) hub: resumed after a cut, wrong hashes refused with nothing left
behind, range-less servers refused, disk checked first, offline said in one line."""
import os

import pytest

from helpers.hub import download as download_module
from helpers.hub.download import (
    DiskFullError,
    HashMismatchError,
    download,
    main,
    part_path,
    remote_file_info,
)
from helpers.hub.ranges import HubError, HubFile, OfflineError, RangesIgnoredError

REPO = "course/download-test"
SIZE = 3 * 2**20 + 12345


@pytest.fixture
def hosted(fake_hub, tmp_path):
    source = tmp_path / "served" / "model-Q4_K_M.gguf"
    source.parent.mkdir()
    source.write_bytes(os.urandom(SIZE))
    fake_hub.add(REPO, "model-Q4_K_M.gguf", source)
    return fake_hub, source, HubFile(REPO, "model-Q4_K_M.gguf", "main")



def test_download_verifies_and_pins_the_commit(hosted, tmp_path):
    hub, source, file = hosted
    info = remote_file_info(file)
    assert info.size == SIZE and info.sha256 == hub.sha256(REPO, file.filename) and info.commit
    assert f"/resolve/{info.commit}/" in info.url
    dest = tmp_path / "models" / "model.gguf"
    done = download(file, dest, progress=False)
    assert dest.read_bytes() == source.read_bytes() and not part_path(dest).exists()
    assert done.size == SIZE and done.resumed_from == 0 and done.bytes_received == SIZE
    gets = [path for method, path, _ in hub.requests if method == "GET"]
    assert gets and all(info.commit in path or "/lfs/" in path for path in gets)  # every byte from one commit


def test_a_cut_download_resumes_where_it_stopped(hosted, tmp_path):
    hub, source, file = hosted
    dest = tmp_path / "model.gguf"
    hub.drop_after_bytes = SIZE // 2
    with pytest.raises(OfflineError, match="run again to resume"):
        download(file, dest, progress=False)
    assert not dest.exists() and part_path(dest).stat().st_size == SIZE // 2
    hub.drop_after_bytes = None
    done = download(file, dest, progress=False)
    assert done.resumed_from == SIZE // 2 and done.bytes_received == SIZE - SIZE // 2
    assert dest.read_bytes() == source.read_bytes() and not part_path(dest).exists()
    assert hub.requests[-1][2] == f"bytes={SIZE // 2}-"


def test_wrong_hash_is_refused_and_nothing_is_left(hosted, tmp_path):
    hub, _, file = hosted
    hub.wrong_hash = True
    dest = tmp_path / "model.gguf"
    with pytest.raises(HashMismatchError, match="differs from the expected"):
        download(file, dest, progress=False)
    assert list(tmp_path.iterdir()) == [tmp_path / "served"]


def test_a_pinned_hash_that_the_hub_contradicts_downloads_nothing(hosted, tmp_path):
    hub, _, file = hosted
    with pytest.raises(HashMismatchError, match="nothing was downloaded"):
        download(file, tmp_path / "model.gguf", sha256="0" * 64, progress=False)
    assert hub.bytes_sent == 0 and not (tmp_path / "model.gguf").exists()


def test_resume_from_a_server_that_ignores_ranges_is_refused(hosted, tmp_path):
    hub, source, file = hosted
    dest = tmp_path / "model.gguf"
    part_path(dest).write_bytes(source.read_bytes()[:1000])
    hub.ignore_ranges = True
    with pytest.raises(RangesIgnoredError, match="ignored the Range header"):
        download(file, dest, progress=False)
    assert not dest.exists() and part_path(dest).stat().st_size == 1000


def test_short_disk_is_refused_before_any_byte(hosted, tmp_path, monkeypatch):
    hub, _, file = hosted
    monkeypatch.setattr(download_module.shutil, "disk_usage", lambda _: type("Usage", (), {"free": SIZE})())
    with pytest.raises(DiskFullError, match="not enough disk space"):
        download(file, tmp_path / "model.gguf", progress=False)
    assert hub.bytes_sent == 0 and not part_path(tmp_path / "model.gguf").exists()


def test_a_small_file_without_an_lfs_hash_is_refused(fake_hub, tmp_path):
    (tmp_path / "config.json").write_text("{}")
    fake_hub.add(REPO, "config.json", tmp_path / "config.json")
    with pytest.raises(HubError, match="no SHA-256"):
        download(HubFile(REPO, "config.json"), tmp_path / "out.json", progress=False)


def test_missing_file_is_a_clear_error(fake_hub, tmp_path):
    with pytest.raises(HubError, match="404"):
        download(HubFile(REPO, "nothing.gguf"), tmp_path / "x.gguf", progress=False)


def test_cli_downloads_and_says_what_it_verified(hosted, tmp_path, capsys):
    hub, source, file = hosted
    assert main([f"{REPO}:{file.filename}@main", "--dest", str(tmp_path / "out"), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "verified" in out and hub.sha256(REPO, file.filename) in out
    assert (tmp_path / "out" / file.filename).read_bytes() == source.read_bytes()


def test_cli_offline_is_one_line(tmp_path, capsys):
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(SystemExit) as stop:
        main([f"{REPO}:model.gguf", "--dest", str(tmp_path), "--endpoint", f"http://127.0.0.1:{port}", "--quiet"])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and "cannot reach" in err and len(err.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_cli_refuses_a_bad_spec(capsys):
    with pytest.raises(SystemExit):
        main(["not-a-spec", "--quiet"])
    assert "owner/repo:file" in capsys.readouterr().err
