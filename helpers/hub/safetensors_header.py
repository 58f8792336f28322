"""The one safetensors header parser: 8 bytes of header length, then a JSON table of tensors.

A safetensors file is a little-endian uint64 ``n``, an ``n``-byte JSON object (tensor name -> dtype,
shape, ``data_offsets`` [begin, end) into the data that follows; optional ``__metadata__``) and the
tensor data. :func:`header_length` reads ``n`` from the first 8 bytes, :func:`parse_header` checks
the JSON against the file's length; both take bytes, so a local file (``helpers.images.checkpoint_check``)
and a remote one read by range requests (``helpers.hub.remote_safetensors``) are checked alike.
Sizes in bytes.
"""
import json
import struct
from dataclasses import dataclass

MAX_HEADER_BYTES = 100_000_000  # the safetensors format's own limit on the JSON header
LENGTH_BYTES = 8


class SafetensorsHeaderError(ValueError):
    """A safetensors header that is short, truncated, not JSON or inconsistent with the file."""


@dataclass(frozen=True)
class TensorInfo:
    """One tensor as the header describes it: name, dtype (``F32``, ``F16``...), shape, bytes."""
    name: str
    dtype: str
    shape: tuple
    nbytes: int

    @property
    def n_elements(self) -> int:
        count = 1
        for dim in self.shape:
            count *= dim
        return count


def header_length(head: bytes, file_bytes: int, name: str) -> int:
    """The JSON header's length ``n`` from a file's first 8 bytes, checked against ``file_bytes``."""
    if len(head) < LENGTH_BYTES:
        raise SafetensorsHeaderError(
            f"{name} has {file_bytes} bytes: too short for a safetensors file "
            "(the header length alone takes 8 bytes). Is the download complete?")
    (n,) = struct.unpack("<Q", head[:LENGTH_BYTES])
    if n > MAX_HEADER_BYTES or LENGTH_BYTES + n > file_bytes:
        raise SafetensorsHeaderError(
            f"{name} is truncated or not a safetensors file: its first 8 bytes announce a "
            f"{n}-byte header but the file has {file_bytes} bytes. Download it again.")
    return n


def parse_header(head: bytes, file_bytes: int, name: str) -> tuple:
    """``(header dict, data start offset)`` from a file's first ``8 + n`` bytes (or more).

    Raises :class:`SafetensorsHeaderError` for a file that is too short, truncated, not JSON, or
    whose tensor byte ranges do not exactly fill the rest of the file.
    """
    n = header_length(head, file_bytes, name)
    if len(head) < LENGTH_BYTES + n:
        raise ValueError(f"{name}: give the first {LENGTH_BYTES + n} bytes, got {len(head)}")
    try:
        header = json.loads(head[LENGTH_BYTES:LENGTH_BYTES + n].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise SafetensorsHeaderError(f"{name} is corrupt: its safetensors header is not valid JSON ({e}).") from None
    if not isinstance(header, dict):
        raise SafetensorsHeaderError(f"{name} is corrupt: its safetensors header is not a JSON object.")
    data_bytes = file_bytes - LENGTH_BYTES - n
    end = 0
    for tensor, entry in header.items():
        if tensor == "__metadata__":
            continue
        try:
            begin, stop = (int(v) for v in entry["data_offsets"])
        except (KeyError, TypeError, ValueError):
            raise SafetensorsHeaderError(f"{name} is corrupt: tensor {tensor!r} has no valid data_offsets.") from None
        if not 0 <= begin <= stop:
            raise SafetensorsHeaderError(f"{name} is corrupt: tensor {tensor!r} has offsets {begin}..{stop}.")
        end = max(end, stop)
    if end > data_bytes:
        raise SafetensorsHeaderError(
            f"{name} is truncated: its tensors need {end:,} bytes of data but only {data_bytes:,} "
            "follow the header. Download it again.")
    if end < data_bytes:
        raise SafetensorsHeaderError(
            f"{name} is corrupt: {data_bytes - end} bytes follow the last tensor. Download it again.")
    return header, LENGTH_BYTES + n


def tensor_infos(header: dict, name: str) -> tuple:
    """:class:`TensorInfo` of every tensor a parsed header lists (``__metadata__`` skipped)."""
    infos = []
    for tensor, entry in header.items():
        if tensor == "__metadata__":
            continue
        try:
            shape = tuple(int(d) for d in entry["shape"])
            begin, stop = (int(v) for v in entry["data_offsets"])
            infos.append(TensorInfo(tensor, str(entry["dtype"]), shape, stop - begin))
        except (KeyError, TypeError, ValueError):
            raise SafetensorsHeaderError(f"{name} is corrupt: tensor {tensor!r} lacks a dtype or shape.") from None
    return tuple(infos)
