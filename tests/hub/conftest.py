"""A fake model hub on 127.0.0.1 for the hub tests: range-capable, hashes in headers, and faults on request.

It serves ``/{owner}/{repo}/resolve/{revision}/{path}`` like the Hugging Face hub: large files (LFS:
``.gguf``, ``.safetensors``) answer with a redirect to ``/lfs/{sha256}`` whose headers carry
``X-Linked-Etag`` (the SHA-256), ``X-Linked-Size`` and ``X-Repo-Commit``; small files are served
directly with a git-style ``ETag``. ``/api/models/{owner}/{repo}/tree/{revision}[/{folder}]`` lists
files with their ``lfs.oid``. Faults: ``ignore_ranges`` (answer 200 with the whole file),
``drop_after_bytes`` (close the connection after that many body bytes), ``wrong_hash`` (advertise
another SHA-256). ``bytes_sent`` counts response body bytes.
"""
import hashlib
import json
import re
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

COMMIT = "0123456789abcdef0123456789abcdef01234567"
LFS_SUFFIXES = (".gguf", ".safetensors")


class FakeHub:
    def __init__(self):
        self.files = {}  # (repo, path) -> Path on disk
        self.ignore_ranges = False
        self.drop_after_bytes = None
        self.wrong_hash = False
        self.bytes_sent = 0
        self.requests = []
        self._sha = {}

    def add(self, repo: str, path: str, source) -> Path:
        """Serve ``source`` (a Path, or bytes written to a file beside nothing) as ``repo``'s ``path``."""
        self.files[(repo, path)] = Path(source)
        return Path(source)

    def sha256(self, repo, path) -> str:
        key = (repo, path)
        if key not in self._sha:
            digest = hashlib.sha256()
            with self.files[key].open("rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    digest.update(block)
            self._sha[key] = digest.hexdigest()
        return self._sha[key]

    def git_oid(self, repo, path) -> str:
        data = self.files[(repo, path)].read_bytes() if not path.endswith(LFS_SUFFIXES) else b""
        return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()  # noqa: S324 (git's own scheme)

    def advertised_sha256(self, repo, path) -> str:
        real = self.sha256(repo, path)
        return ("f" * 64 if real != "f" * 64 else "e" * 64) if self.wrong_hash else real

    def tree(self, repo, folder) -> list:
        entries = []
        for (r, path), source in sorted(self.files.items()):
            if r != repo or (folder and not path.startswith(folder.rstrip("/") + "/")):
                continue
            entry = {"type": "file", "path": path, "size": source.stat().st_size, "oid": self.git_oid(r, path)}
            if path.endswith(LFS_SUFFIXES):
                entry["lfs"] = {"oid": self.advertised_sha256(r, path), "size": source.stat().st_size,
                                "pointerSize": 134}
            entries.append(entry)
        return entries


def _handler(hub: FakeHub):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def _send_json(self, value):
            body = json.dumps(value).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self._body(body)

        def _body(self, data: bytes):
            if self.command == "HEAD":
                return
            if hub.drop_after_bytes is not None and len(data) > hub.drop_after_bytes:
                hub.bytes_sent += hub.drop_after_bytes  # counted before sending: the client may finish first
                self.wfile.write(data[:hub.drop_after_bytes])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(2)
                return
            hub.bytes_sent += len(data)
            self.wfile.write(data)

        def _serve_file(self, repo, path, extra_headers):
            source = hub.files[(repo, path)]
            size = source.stat().st_size
            start, end, status = 0, size - 1, 200
            wanted = re.match(r"^bytes=(\d+)-(\d*)$", self.headers.get("Range", ""))
            if wanted and not hub.ignore_ranges:
                start = int(wanted[1])
                end = min(int(wanted[2]) if wanted[2] else size - 1, size - 1)
                if start >= size:
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{size}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                status = 206
            self.send_response(status)
            for key, value in extra_headers.items():
                self.send_header(key, value)
            if not hub.ignore_ranges:
                self.send_header("Accept-Ranges", "bytes")
            if status == 206:
                self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
            self.send_header("Content-Length", str(end - start + 1))
            self.end_headers()
            if self.command == "HEAD":
                return
            with source.open("rb") as f:
                f.seek(start)
                self._body(f.read(end - start + 1))

        def _route(self):
            hub.requests.append((self.command, self.path, self.headers.get("Range")))
            path = self.path.split("?", 1)[0]
            tree = re.match(r"^/api/models/([^/]+/[^/]+)/tree/([^/]+)/?(.*)$", path)
            resolve = re.match(r"^/([^/]+/[^/]+)/resolve/([^/]+)/(.+)$", path)
            lfs = re.match(r"^/lfs/([0-9a-f]{64})/([^/]+/[^/]+)/(.+)$", path)
            if tree and tree[2] in ("main", COMMIT):
                return self._send_json(hub.tree(tree[1], tree[3]))
            if lfs and (lfs[2], lfs[3]) in hub.files:
                return self._serve_file(lfs[2], lfs[3], {})
            if resolve and resolve[2] in ("main", COMMIT) and (resolve[1], resolve[3]) in hub.files:
                repo, file = resolve[1], resolve[3]
                if file.endswith(LFS_SUFFIXES):
                    sha = hub.advertised_sha256(repo, file)
                    self.send_response(302)
                    self.send_header("Location", f"/lfs/{sha}/{repo}/{file}")
                    self.send_header("X-Linked-Etag", f'"{sha}"')
                    self.send_header("X-Linked-Size", str(hub.files[(repo, file)].stat().st_size))
                    self.send_header("X-Repo-Commit", COMMIT)
                    self.send_header("ETag", '"w/not-the-file-hash"')
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return None
                return self._serve_file(repo, file, {"ETag": f'"{hub.git_oid(repo, file)}"', "X-Repo-Commit": COMMIT})
            body = b"Entry not found"
            self.send_response(404)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self._body(body)
            return None

        do_GET = do_HEAD = _route

    return Handler


@contextmanager
def serving(hub: FakeHub):
    """Run ``hub`` on 127.0.0.1 (a free port; ``hub.url``) until the block ends, then stop it."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(hub))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    hub.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield hub
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture
def fake_hub(monkeypatch):
    """A running :class:`FakeHub`; ``HF_ENDPOINT`` points at it. Always stopped."""
    with serving(FakeHub()) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        yield hub


@pytest.fixture(scope="module")
def module_hub():
    """A running :class:`FakeHub` shared by one test module (reach it by ``hub.url``). Always stopped."""
    with serving(FakeHub()) as hub:
        yield hub
