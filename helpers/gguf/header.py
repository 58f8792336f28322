"""Read a GGUF file's header: metadata and tensor table, never the weights. The one GGUF reader.

A GGUF file is a header (key/value metadata, then one entry per tensor: name, shape, type,
offset) followed by the tensor data. :func:`read_header` memory-maps the file with
``gguf.GGUFReader`` and refuses a file that is not GGUF, whose header is damaged, or whose tensor
table points past the end of the file (an interrupted download), with a ValueError naming the file,
before llama.cpp ever opens it. Sizes are in bytes.
"""
import functools
import struct
from dataclasses import dataclass
from pathlib import Path

import gguf

from helpers.course.units import format_size

GGUF_MAGIC = b"GGUF"
HEADER_START_BYTES = 24  # magic, version, tensor count, metadata key count


@dataclass(frozen=True)
class GGUFHeader:
    """What a GGUF header says about a model, before any weight is loaded. Sizes in bytes."""

    file_name: str
    version: int  # GGUF format version
    name: str
    architecture: str  # llama.cpp's general.architecture, e.g. "llama", "qwen2"
    file_type: str  # e.g. "Q4_K_M", "F16"
    file_bytes: int
    tensor_count: int
    tensor_bytes: int  # sum of all tensor data
    layer_bytes: tuple  # tensor bytes of each block blk.0, blk.1, ...
    output_bytes: int  # output.weight + output_norm (0 bytes for output.weight when tied)
    embedding_bytes: int  # token_embd.weight
    has_output_weight: bool  # False when the output layer reuses the token embeddings (tied)
    context_length: int  # tokens the model was trained for
    n_layers: int
    hidden: int
    ffn: int
    n_heads: int
    n_kv_heads: int
    head_dim: int
    vocab: int
    tokenizer_model: str  # "llama" (SentencePiece-style), "gpt2" (byte-level BPE), ...
    chat_template: str  # "" when the file has none
    bos_token: str
    eos_token: str
    value_head_dim: int  # attention.value_length (head_dim when the file has none)
    rope_dim: int  # rope.dimension_count: dimensions of each head that get RoPE (head_dim when absent)
    sliding_window: int  # attention.sliding_window in tokens; 0 when absent (the layer pattern is the family's)
    n_experts: int  # expert_count; 0 for a dense model
    n_experts_used: int  # expert_used_count: routed experts that run for each token
    expert_ffn: int  # expert_feed_forward_length: one expert's FFN width; 0 when absent (the same as ffn)
    n_shared_experts: int  # expert_shared_count: experts that run for every token (DeepSeek)
    n_dense_layers: int  # leading_dense_block_count: first blocks with a plain FFN (DeepSeek)
    kv_lora_rank: int  # attention.kv_lora_rank: latent attention's compressed K/V width; 0 without MLA
    q_lora_rank: int  # attention.q_lora_rank: latent attention's query bottleneck; 0 without one
    mla_key_head_dim: int  # attention.key_length_mla: per-head key size of a latent-attention file; 0 when absent
    mla_value_head_dim: int  # attention.value_length_mla: per-head value size likewise
    expert_bytes: int  # tensor bytes of the routed experts (ffn_*_exps tensors); 0 for a dense model
    largest_block_matrix_bytes: int  # the largest weight matrix of any block (what a GPU copies from RAM)

    def as_rows(self) -> list:
        """(field, value) pairs for a table; sizes as bytes and MiB or GiB."""
        return [
            ("name", self.name), ("architecture", self.architecture), ("file type", self.file_type),
            ("file size", f"{self.file_bytes:,} bytes ({format_size(self.file_bytes)})"),
            ("trained context (tokens)", self.context_length), ("blocks (layers)", self.n_layers),
            ("hidden size", self.hidden), ("feed-forward size", self.ffn),
            ("attention heads / KV heads", f"{self.n_heads} / {self.n_kv_heads}"),
            ("head dim", self.head_dim), ("vocabulary (tokens)", self.vocab),
            ("chat template", "yes" if self.chat_template else "none (plain completion only)"),
            ("BOS / EOS token", f"{self.bos_token} / {self.eos_token}"),
        ] + self._family_rows()

    def _family_rows(self) -> list:
        """Rows for sliding-window attention, experts and latent attention, only where the file has them."""
        rows = []
        if self.sliding_window:
            rows.append(("sliding window (tokens)", self.sliding_window))
        if self.n_experts:
            rows.append(("experts used / total", f"{self.n_experts_used} / {self.n_experts}"
                         + (f" + {self.n_shared_experts} shared" if self.n_shared_experts else "")))
            rows.append(("expert weights", f"{self.expert_bytes:,} bytes ({format_size(self.expert_bytes)})"))
        if self.kv_lora_rank:
            rows.append(("latent attention: K/V rank + rotary dims", f"{self.kv_lora_rank} + {self.rope_dim}"))
        return rows


def _value(reader, key, default=None):
    """A metadata value; for per-layer arrays (e.g. head_count_kv of some models) the largest."""
    field = reader.fields.get(key)
    if field is None:
        return default
    value = field.contents()
    if isinstance(value, list):
        numbers = [v for v in value if isinstance(v, (int, float))]
        return max(numbers) if numbers else default
    return value


def _file_type_name(ftype) -> str:
    if ftype is None:
        return "unknown"
    try:
        return gguf.LlamaFileType(ftype).name.replace("MOSTLY_", "")
    except ValueError:
        return f"file_type {ftype}"


def describe_counts(path) -> str:
    """What the fixed start of a GGUF header says: version, tensor count and metadata key count.

    The first 24 bytes are the magic, a little-endian uint32 version and two uint64 counts; they can
    be read even when the rest of the file is damaged (the file must have at least 24 bytes).
    """
    with Path(path).open("rb") as f:
        head = f.read(HEADER_START_BYTES)
    version, tensors, keys = struct.unpack("<IQQ", head[4:])
    return f"its header (GGUF version {version}) lists {tensors:,} tensors and {keys:,} metadata keys"


_CHECKED = set()  # (resolved path, size, mtime_ns) of file versions open_checked accepted in this process


def open_checked(path) -> gguf.GGUFReader:
    """A ``gguf.GGUFReader`` for ``path`` once the file is known to be a whole GGUF file.

    Raises FileNotFoundError for a missing file and ValueError for a file that is not GGUF (wrong
    magic, e.g. a PyTorch pickle), has a damaged header, or is truncated (tensor data would run
    past the end of the file). Each call parses the file again and returns a new reader: a reader
    holds the parsed vocabulary (about 150 MB for 49k tokens) and keeps the file mapped until it is
    dropped, so take what you need from it and let it go (:func:`check_gguf` only checks).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no model file at {path}")
    size = path.stat().st_size
    with path.open("rb") as f:
        magic = f.read(4)
    if magic != GGUF_MAGIC:
        hint = " (this looks like a zip/PyTorch checkpoint)" if magic[:2] == b"PK" else ""
        raise ValueError(f"{path.name}: not a GGUF file: starts with {magic!r}, expected "
                         f"{GGUF_MAGIC!r}{hint}")
    if size < HEADER_START_BYTES:
        raise ValueError(f"{path.name}: truncated: {size} bytes, a GGUF header alone needs more than "
                         f"{HEADER_START_BYTES}; download or copy the file again")
    version = _version(path)
    try:
        reader = gguf.GGUFReader(str(path), "r")
    except Exception as err:  # the reader raises many types (numpy, struct, unicode) on damaged files
        raise ValueError(f"{path.name}: truncated or corrupt: {describe_counts(path)}, but its {size:,} bytes "
                         "do not hold what the header describes (an interrupted download or copy?); "
                         "download or copy the file again") from err
    end = max((t.data_offset + int(t.n_bytes) for t in reader.tensors), default=0)
    if end > size:
        raise ValueError(f"{path.name}: truncated: tensor data ends at byte {end:,} "
                         f"but the file has {size:,} bytes")
    _CHECKED.add(version)
    return reader


def _version(path: Path) -> tuple:
    """What identifies one version of a file: its resolved path, size (bytes) and modification time."""
    stat = path.stat()
    return str(path.resolve()), stat.st_size, stat.st_mtime_ns


def check_gguf(path) -> None:
    """Refuse ``path`` as :func:`open_checked` does, keeping no reader. A file version that passed
    once in this process (same size and modification time) is not parsed again."""
    path = Path(path)
    if not (path.is_file() and _version(path) in _CHECKED):
        open_checked(path)


def tensor_data_offset(path) -> int:
    """Byte offset where the tensor data starts: the header's length, alignment padding included (bytes).

    A file whose first ``n`` bytes are real and the rest zeros (a sparse copy of a remote file's start)
    is parsed exactly when this offset is at most ``n``: the parse reads the file in order, so a header
    that goes on past ``n`` makes it read beyond ``n``. ``helpers.hub.remote_gguf`` relies on this.
    """
    return int(open_checked(path).data_offset)


def read_header(path) -> GGUFHeader:
    """Read a GGUF's metadata and tensor table (memory-mapped; no weights are loaded).

    Bad files are refused as :func:`open_checked` describes. Whether the model fits in memory is a
    separate question (``helpers.llm.load.check_file_fits``, ``helpers.llm.memory_check.check_fits``).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no model file at {path}")
    stat = path.stat()
    return _parsed_header(str(path), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=64)
def _parsed_header(name: str, size: int, mtime_ns: int) -> GGUFHeader:
    """:func:`read_header`'s work, once per file version: parsing a 49k-token vocabulary takes seconds."""
    path = Path(name)
    reader = open_checked(path)
    arch = str(_value(reader, "general.architecture") or "unknown")
    layer_bytes, output_bytes, embedding_bytes, expert_bytes, largest_block_matrix = {}, 0, 0, 0, 0
    for t in reader.tensors:
        if t.name.startswith("blk."):
            i = int(t.name.split(".")[1])
            layer_bytes[i] = layer_bytes.get(i, 0) + int(t.n_bytes)
            if len(t.shape) > 1:
                largest_block_matrix = max(largest_block_matrix, int(t.n_bytes))
            if "_exps." in t.name:  # routed experts: blk.N.ffn_{gate,up,down}_exps (weights, and biases in gpt-oss)
                expert_bytes += int(t.n_bytes)
        elif t.name == "token_embd.weight":
            embedding_bytes += int(t.n_bytes)
        else:
            output_bytes += int(t.n_bytes)
    tokens = reader.fields.get("tokenizer.ggml.tokens")
    vocab = len(tokens.data) if tokens is not None else int(_value(reader, f"{arch}.vocab_size", 0))
    hidden = int(_value(reader, f"{arch}.embedding_length", 0))
    n_heads = int(_value(reader, f"{arch}.attention.head_count", 1))
    head_dim = int(_value(reader, f"{arch}.attention.key_length", hidden // max(n_heads, 1)))

    def number(key, default=0):
        """``{arch}.key`` as an int, the keys llama.cpp's loader reads (``default`` when the file has none)."""
        return int(_value(reader, f"{arch}.{key}", default))

    def token_text(key):
        index = _value(reader, key)
        if tokens is None or index is None or not 0 <= int(index) < vocab:
            return ""
        return tokens.contents(int(index))

    return GGUFHeader(
        file_name=path.name, version=int(_value(reader, "GGUF.version", 0)),
        name=str(_value(reader, "general.name") or path.stem), architecture=arch,
        file_type=_file_type_name(_value(reader, "general.file_type")), file_bytes=size,
        tensor_count=len(reader.tensors), tensor_bytes=sum(int(t.n_bytes) for t in reader.tensors),
        layer_bytes=tuple(layer_bytes[i] for i in sorted(layer_bytes)), output_bytes=output_bytes,
        embedding_bytes=embedding_bytes,
        has_output_weight=any(t.name == "output.weight" for t in reader.tensors),
        context_length=int(_value(reader, f"{arch}.context_length", 0)),
        n_layers=int(_value(reader, f"{arch}.block_count", len(layer_bytes))), hidden=hidden,
        ffn=int(_value(reader, f"{arch}.feed_forward_length", 4 * hidden)), n_heads=n_heads,
        n_kv_heads=int(_value(reader, f"{arch}.attention.head_count_kv", n_heads)), head_dim=head_dim,
        vocab=vocab, tokenizer_model=str(_value(reader, "tokenizer.ggml.model", "") or ""),
        chat_template=str(_value(reader, "tokenizer.chat_template", "") or ""),
        bos_token=token_text("tokenizer.ggml.bos_token_id"), eos_token=token_text("tokenizer.ggml.eos_token_id"),
        value_head_dim=number("attention.value_length", head_dim), rope_dim=number("rope.dimension_count", head_dim),
        sliding_window=number("attention.sliding_window"), n_experts=number("expert_count"),
        n_experts_used=number("expert_used_count"), expert_ffn=number("expert_feed_forward_length"),
        n_shared_experts=number("expert_shared_count"), n_dense_layers=number("leading_dense_block_count"),
        kv_lora_rank=number("attention.kv_lora_rank"), q_lora_rank=number("attention.q_lora_rank"),
        mla_key_head_dim=number("attention.key_length_mla"), mla_value_head_dim=number("attention.value_length_mla"),
        expert_bytes=expert_bytes, largest_block_matrix_bytes=largest_block_matrix,
    )
