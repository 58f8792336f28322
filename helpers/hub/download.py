"""Download a hub file verified: pinned revision, free disk checked, resumable, SHA-256 checked, atomic.

    python -m helpers.hub.download Qwen/Qwen2.5-0.5B-Instruct-GGUF:qwen2.5-0.5b-instruct-q4_k_m.gguf@main --dest models/

Steps: a HEAD on the file's resolve/ URL gives its size, its SHA-256 (the hub's LFS hash, in
``X-Linked-Etag``; huggingface_hub reads the same header) and the commit the revision points to
(``X-Repo-Commit``), so every byte comes from that one commit even if a branch moves meanwhile.
The free disk space (``shutil.disk_usage``) must hold what is still missing. Bytes go to
``<dest>.part``; an interrupted download resumes from there with a range request (a server that
ignores ranges is refused). The SHA-256 of the whole file is checked before ``<dest>.part`` is
renamed onto ``dest`` (``os.replace``, atomic): nothing partial ever lies under the final name, and a
file with the wrong hash is deleted. Failures raise ``helpers.hub.ranges.HubError`` subclasses with
a one-line message, which the command line prints without a traceback. Sizes in bytes.
"""
import argparse
import hashlib
import os
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from helpers.hub.ranges import (
    HubError,
    HubFile,
    OfflineError,
    Transfer,
    content_range,
    head_headers,
    open_url,
    parse_hub_spec,
    read_body,
    resolve_url,
)

CHUNK_BYTES = 2**20
DISK_MARGIN_BYTES = 100 * 2**20  # keep 100 MiB free beyond the file
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class HashMismatchError(HubError):
    """The downloaded bytes do not have the SHA-256 the hub (or the caller) gave."""


class DiskFullError(HubError):
    """Not enough free disk space for what is still to be downloaded."""


@dataclass(frozen=True)
class RemoteFileInfo:
    """What a HEAD on a resolve/ URL says about an LFS file."""

    url: str  # resolve/ URL at the pinned commit
    size: int  # bytes
    sha256: str  # hex
    commit: str  # the commit the revision pointed to ("" when the server does not say)


@dataclass(frozen=True)
class Download:
    """A finished, verified download."""

    path: Path
    size: int
    sha256: str
    commit: str
    resumed_from: int  # bytes already in <dest>.part when this call started
    bytes_received: int  # bytes received by this call


def remote_file_info(file: HubFile, endpoint=None, transfer: Transfer = None) -> RemoteFileInfo:
    """Size, SHA-256 and commit of a hub file from one HEAD request (no body is downloaded)."""
    url = resolve_url(file, endpoint)
    headers = head_headers(url, transfer or Transfer())
    sha = (headers.get("x-linked-etag") or "").removeprefix("W/").strip('"').lower()
    if not _SHA256.match(sha):
        raise HubError(f"{url}: the hub gives no SHA-256 for this file (not stored with LFS); "
                       "pass the expected sha256 yourself")
    size = headers.get("x-linked-size") or headers.get("content-length") or ""
    if not size.isdigit():
        raise HubError(f"{url}: the hub gives no file size")
    commit = headers.get("x-repo-commit", "")
    pinned = resolve_url(HubFile(file.repo, file.filename, commit), endpoint) if commit else url
    return RemoteFileInfo(pinned, int(size), sha, commit)


def part_path(dest) -> Path:
    """Where the bytes of ``dest`` collect until they are verified: ``<dest>.part``."""
    dest = Path(dest)
    return dest.with_name(dest.name + ".part")


def check_free_disk(folder, needed_bytes: int, margin_bytes: int = DISK_MARGIN_BYTES) -> None:
    """Refuse (:class:`DiskFullError`) when ``folder``'s disk lacks ``needed_bytes`` + ``margin_bytes``."""
    free = shutil.disk_usage(folder).free
    if needed_bytes + margin_bytes > free:
        raise DiskFullError(f"not enough disk space in {folder}: {needed_bytes / 1e9:.2f} GB to download "
                            f"(+ {margin_bytes / 1e9:.2f} GB margin), {free / 1e9:.2f} GB free")


def _hash_of(path: Path, digest) -> None:
    with path.open("rb") as f:
        for block in iter(lambda: f.read(CHUNK_BYTES), b""):
            digest.update(block)


def download_url(url: str, dest, sha256: str, size: int, commit: str = "", progress: bool = True) -> Download:
    """Download ``url`` (``size`` bytes) to ``dest`` through ``<dest>.part``; verify ``sha256``; rename.

    Resumes from an existing ``<dest>.part``. Raises :class:`DiskFullError`, :class:`HashMismatchError`
    (the part file is deleted), ``RangesIgnoredError``, ``OfflineError`` or :class:`HubError`.
    """
    from tqdm.auto import tqdm

    dest = Path(dest)
    sha256 = sha256.lower()
    if not _SHA256.match(sha256):
        raise ValueError(f"sha256 must be 64 hex digits, got {sha256!r}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = part_path(dest)
    have = part.stat().st_size if part.is_file() else 0
    if have > size:  # not a prefix of this file
        part.unlink()
        have = 0
    check_free_disk(dest.parent, size - have)
    digest = hashlib.sha256()
    if have:
        _hash_of(part, digest)
    transfer = Transfer()
    if have < size:
        with open_url(url, transfer, {"Range": f"bytes={have}-"} if have else {}) as response:
            if have:
                content_range(response, url, have)
            with part.open("ab") as out, tqdm(total=size, initial=have, unit="B", unit_scale=True,
                                               desc=dest.name, disable=not progress) as bar:
                try:
                    while block := read_body(response, transfer, CHUNK_BYTES):
                        out.write(block)
                        digest.update(block)
                        bar.update(len(block))
                except OfflineError as err:
                    out.flush()
                    raise OfflineError(f"{dest.name}: {err} after {part.stat().st_size:,} of {size:,} bytes; "
                                       f"run again to resume from {part.name}") from None
    got = part.stat().st_size
    if got != size:
        raise OfflineError(f"{dest.name}: the connection ended after {got:,} of {size:,} bytes; run again to "
                           f"resume from {part.name}")
    if digest.hexdigest() != sha256:
        part.unlink()
        raise HashMismatchError(f"{dest.name}: SHA-256 {digest.hexdigest()} differs from the expected {sha256}; "
                                "the file was deleted, nothing was kept")
    os.chmod(part, 0o644)
    os.replace(part, dest)
    return Download(dest, size, sha256, commit, have, transfer.bytes_received)


def download(file: HubFile, dest, endpoint=None, sha256: str = None, progress: bool = True) -> Download:
    """Download a hub file at its revision to ``dest`` (a file path), verified as the module says.

    ``sha256`` (hex), when given, must equal the hub's own LFS hash: a pinned expectation.
    """
    info = remote_file_info(file, endpoint)
    if sha256 is not None and sha256.lower() != info.sha256:
        raise HashMismatchError(f"{file.filename}: the hub's SHA-256 {info.sha256} differs from the expected "
                                f"{sha256.lower()}; nothing was downloaded")
    return download_url(info.url, dest, info.sha256, info.size, info.commit, progress)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m helpers.hub.download", description=__doc__.split("\n")[0])
    p.add_argument("file", help="owner/repo:path/in/repo[@revision] (revision: a commit, tag or branch; default main)")
    p.add_argument("--dest", default=".", help="folder to put the file in (default: here)")
    p.add_argument("--sha256", help="expected SHA-256 (hex); must equal the hub's")
    p.add_argument("--endpoint", help="hub base URL (default $HF_ENDPOINT or https://huggingface.co)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    args = p.parse_args(argv)
    try:
        file = parse_hub_spec(args.file)
        done = download(file, Path(args.dest) / Path(file.filename).name, args.endpoint, args.sha256,
                        progress=not args.quiet)
    except (HubError, ValueError) as err:
        p.exit(2, f"{p.prog}: error: {err}\n")
    resumed = f", resumed from byte {done.resumed_from:,}" if done.resumed_from else ""
    print(f"{done.path}: {done.size:,} bytes, SHA-256 {done.sha256} verified, commit {done.commit or 'unknown'}"
          f"{resumed}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
