"""Check an image-model checkpoint before loading it: format, integrity, size against free memory.

Accepted: a diffusers folder (``model_index.json`` with component subfolders, or one model's
``config.json``) whose weights are ``*.safetensors``, or a single ``.safetensors`` file.
Refused, with a clear :class:`CheckpointError` (a ``ValueError``) and nothing loaded:

* pickle checkpoints (``.ckpt``, ``.pt``, ``.pth``, ``.bin``, ``.pkl``) — unpickling a file can run
  any code its author put in it;
* missing paths, folders without weights, truncated or corrupt safetensors files;
* checkpoints whose tensors need more bytes than the memory available now.

A safetensors file is 8 bytes (little-endian header length), a JSON header (name -> dtype, shape,
byte offsets) and the raw tensor bytes. The header is read and checked without loading any tensor
data (``helpers.hub.safetensors_header``, the parser a remote file's header goes through too);
:func:`safetensors.safe_open` then lists the tensors. Sizes are in bytes.
"""
import json
from dataclasses import dataclass
from pathlib import Path

from helpers.course.units import format_size
from helpers.hub.safetensors_header import (
    LENGTH_BYTES,
    SafetensorsHeaderError,
    TensorInfo,
    header_length,
    parse_header,
)

PICKLE_SUFFIXES = (".ckpt", ".pt", ".pth", ".bin", ".pkl", ".pickle")
PICKLE_MAGIC = (b"\x80",)       # pickle protocol 2+ starts with the PROTO opcode
ZIP_MAGIC = b"PK\x03\x04"       # torch.save's zip container (holds a pickle)


class CheckpointError(ValueError):
    """A checkpoint that this course refuses to load, with the reason and what to do instead."""


@dataclass(frozen=True)
class CheckpointReport:
    """What a checked checkpoint holds. ``tensor_bytes`` is what loading it costs in memory (bytes)."""
    kind: str               # "safetensors file", "diffusers pipeline folder" or "diffusers model folder"
    files: tuple            # the safetensors files checked (paths relative to the checkpoint)
    tensors: tuple          # TensorInfo for every tensor in every file
    tensor_bytes: int
    file_bytes: int

    @property
    def n_parameters(self) -> int:
        """Number of values in all tensors."""
        return sum(t.n_elements for t in self.tensors)

    def dtype_bytes(self) -> dict:
        """{dtype: bytes} summed over tensors."""
        out = {}
        for t in self.tensors:
            out[t.dtype] = out.get(t.dtype, 0) + t.nbytes
        return out


def _refuse_pickle(path: Path) -> None:
    raise CheckpointError(
        f"{path.name} is a pickle checkpoint ({path.suffix or 'pickle bytes'}); loading it can run any code "
        "its author put in it, so this course never loads one. Use a .safetensors version of the "
        "model, or convert it once with a trusted tool in an isolated environment.")


def _looks_like_pickle(head: bytes) -> bool:
    return head.startswith(ZIP_MAGIC) or any(head.startswith(m) for m in PICKLE_MAGIC)


def read_safetensors_header(path) -> tuple:
    """(header dict, data start offset in bytes) of a safetensors file, checked against its size.

    Raises CheckpointError for pickle bytes under a safetensors name, and for files that are too
    short, truncated, not JSON, or whose tensor byte ranges do not fit the file
    (``helpers.hub.safetensors_header``). Reads only the header, never the tensor data.
    """
    path = Path(path)
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(9)
        if head[8:9] != b"{" and _looks_like_pickle(head):  # a safetensors header is JSON: "{" at byte 8
            _refuse_pickle(path)
        try:
            f.seek(0)
            head = f.read(LENGTH_BYTES + header_length(head, size, path.name))
            return parse_header(head, size, path.name)
        except SafetensorsHeaderError as e:
            raise CheckpointError(str(e)) from None


def inspect_safetensors(path) -> tuple:
    """TensorInfo for each tensor of one safetensors file (header only; no tensor data is read)."""
    from safetensors import safe_open

    path = Path(path)
    header, _ = read_safetensors_header(path)
    try:
        infos = []
        with safe_open(str(path), framework="numpy") as f:
            for name in f.keys():
                piece = f.get_slice(name)
                begin, stop = header[name]["data_offsets"]
                infos.append(TensorInfo(name, str(piece.get_dtype()), tuple(int(d) for d in piece.get_shape()),
                                        int(stop) - int(begin)))
    except CheckpointError:
        raise
    except Exception as e:  # safetensors raises its own error type for every malformed file
        raise CheckpointError(f"safetensors could not read {path.name}: {e}") from None
    return tuple(infos)


def _weights_in(folder: Path, root: Path) -> list:
    """Safetensors files of one model folder; refuses a folder whose weights exist only as pickle."""
    safe = sorted(folder.glob("*.safetensors"))
    if not safe:
        pickles = sorted(p.name for p in folder.iterdir() if p.suffix in PICKLE_SUFFIXES)
        where = folder.relative_to(root).as_posix() if folder != root else "the folder"
        if pickles:
            _refuse_pickle(folder / pickles[0])
        raise CheckpointError(f"{where} has a config but no .safetensors weights.")
    return safe


def check_checkpoint(path, available_bytes: int = None) -> CheckpointReport:
    """Check ``path`` (folder or .safetensors file) before loading; return what it holds.

    ``available_bytes`` is the memory the tensors may take (default: RAM available now, from
    psutil). Raises :class:`CheckpointError` (a ValueError) naming the problem.
    """
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path.name or path} does not exist; give a diffusers folder or a .safetensors file.")
    if path.is_file():
        if path.suffix.lower() in PICKLE_SUFFIXES:
            _refuse_pickle(path)
        if path.suffix.lower() != ".safetensors":
            raise CheckpointError(f"{path.name}: expected a .safetensors file or a diffusers folder, "
                                  f"not a {path.suffix or 'suffix-less'} file.")
        kind, files, root = "safetensors file", [path], path.parent
    elif (path / "model_index.json").exists():
        try:
            index = json.loads((path / "model_index.json").read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise CheckpointError(f"model_index.json is not valid JSON ({e}).") from None
        files = []
        for name, value in index.items():
            if name.startswith("_") or not isinstance(value, list) or value[0] is None:
                continue
            sub = path / name
            if not sub.is_dir():
                raise CheckpointError(f"model_index.json lists component {name!r} but the folder {name}/ is missing.")
            has_weights = any(p.suffix in PICKLE_SUFFIXES + (".safetensors",) for p in sub.iterdir())
            if has_weights:
                files += _weights_in(sub, path)
        if not files:
            raise CheckpointError("model_index.json lists no component with .safetensors weights.")
        kind, root = "diffusers pipeline folder", path
    elif (path / "config.json").exists():
        kind, files, root = "diffusers model folder", _weights_in(path, path), path
    else:
        raise CheckpointError(f"{path.name} is neither a diffusers folder (model_index.json or config.json "
                              "with .safetensors weights) nor a .safetensors file.")
    tensors = []
    for f in files:
        tensors += inspect_safetensors(f)
    tensor_bytes = sum(t.nbytes for t in tensors)
    if available_bytes is None:
        import psutil

        available_bytes = psutil.virtual_memory().available
    if tensor_bytes > available_bytes:
        raise CheckpointError(
            f"{path.name} needs {tensor_bytes:,} bytes ({format_size(tensor_bytes)}) for its tensors but only "
            f"{available_bytes:,} bytes ({format_size(available_bytes)}) of memory are available; close "
            "other programs or pick a smaller (quantized or half-precision) model.")
    return CheckpointReport(kind, tuple(f.relative_to(root).as_posix() for f in files), tuple(tensors),
                            tensor_bytes, sum(f.stat().st_size for f in files))
