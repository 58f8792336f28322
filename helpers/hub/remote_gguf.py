"""A GGUF file's header read from a hub by range requests: metadata and tensor table, no weights.

The first ``FIRST_READ_BYTES`` of the file are fetched, written into a *sparse* temporary file as long
as the remote one (its length comes from ``Content-Range``), and read by the course's one GGUF reader
(``helpers.gguf.header``), which sees a complete-looking file whose tensor data are holes. When the
header goes on past what was fetched, the next bytes are fetched (the fetched part doubles) and
the file is parsed again. The result is the same :class:`helpers.gguf.header.GGUFHeader` a local copy
gives, so every plan built from it is the local file's plan. Sizes in bytes.
"""
import tempfile
from dataclasses import dataclass
from pathlib import Path

from helpers.gguf.header import GGUFHeader, read_header, tensor_data_offset
from helpers.hub.ranges import HubFile, Transfer, file_name_of, read_range, resolve_url

FIRST_READ_BYTES = 2**20  # 1 MiB: most headers fit; large vocabularies need a second read
MAX_HEADER_BYTES = 512 * 2**20  # refuse a "header" longer than this (not a model file)


@dataclass(frozen=True)
class RemoteGGUF:
    """A remote GGUF's header and what reading it cost."""

    url: str
    header: GGUFHeader
    header_bytes: int  # where the tensor data start
    bytes_received: int  # response bodies, all requests
    requests: int

    @property
    def share_transferred(self) -> float:
        """Bytes received as a share of the whole file (0..1)."""
        return self.bytes_received / self.header.file_bytes


def _parse(prefix: bytes, total: int, name: str):
    """(header, data offset) when ``prefix`` holds the whole header, else None."""
    with tempfile.TemporaryDirectory(prefix="remote-gguf-") as folder:
        sparse = Path(folder) / name
        with sparse.open("wb") as f:
            f.write(prefix)
            f.truncate(total)  # the rest of the file: a hole, no disk used
        try:
            offset = tensor_data_offset(sparse)
        except ValueError:  # the parse ran into the zeros past the prefix
            return None
        return (read_header(sparse), offset) if offset <= len(prefix) else None


def read_remote_header(url: str, first_read_bytes: int = FIRST_READ_BYTES) -> RemoteGGUF:
    """The header of the GGUF at ``url``, read with range requests (see the module docstring).

    Raises ``helpers.hub.ranges.HubError`` (offline, ranges ignored, HTTP errors) and ValueError for
    a file that is not GGUF or whose header does not parse even when read whole.
    """
    name = file_name_of(url)
    transfer = Transfer()
    prefix, total = read_range(url, 0, first_read_bytes - 1, transfer)
    if prefix[:4] != b"GGUF":
        raise ValueError(f"{name}: not a GGUF file: starts with {prefix[:4]!r}, expected b'GGUF'")
    while True:
        parsed = _parse(prefix, total, name)
        if parsed is not None:
            header, offset = parsed
            return RemoteGGUF(url, header, offset, transfer.bytes_received, transfer.requests)
        if len(prefix) >= min(total, MAX_HEADER_BYTES):
            raise ValueError(f"{name}: its GGUF header does not parse from its first {len(prefix):,} bytes "
                             f"(file length {total:,} bytes): a damaged file or not a model")
        more, _ = read_range(url, len(prefix), min(2 * len(prefix), total) - 1, transfer)
        prefix += more


def read_hub_header(file: HubFile, endpoint=None, first_read_bytes: int = FIRST_READ_BYTES) -> RemoteGGUF:
    """:func:`read_remote_header` for a hub repository's file at a revision."""
    return read_remote_header(resolve_url(file, endpoint), first_read_bytes)
