"""Weight matrices of a real trained model, to look at and to quantize.

``load_weight_matrices(path)`` reads the 2-D float tensors of a ``.safetensors`` or ``.gguf`` file
(never a pickle). With no path it uses the course's own tiny Llama in ``data/tiny_llama/`` when it
is there, else trains a small scikit-learn MLP on the digits data set that ships with scikit-learn
(about 2 s on one core; deterministic for a given seed). Matrices come back as float32, one row
per output unit: ``W @ x`` is the layer.
"""
from pathlib import Path

import numpy as np

from helpers.atomic import atomic_path
from helpers.paths import BUILD_DIR, REPO_ROOT

TINY_LLAMA_DIR = REPO_ROOT / "data" / "tiny_llama"
MAX_FILE_BYTES = 2 * 2**30  # refuse anything over 2 GiB: this course's models are far smaller


def find_course_model(folder: Path = TINY_LLAMA_DIR):
    """The first ``.safetensors`` file (else F32/F16 ``.gguf``) in ``folder``, or None if there is none."""
    folder = Path(folder)
    for pattern in ("*.safetensors", "*f32*.gguf", "*f16*.gguf", "*F32*.gguf", "*F16*.gguf"):
        found = sorted(folder.glob(pattern))
        if found:
            return found[0]
    return None


def _read_safetensors(path: Path) -> dict:
    from safetensors.numpy import load_file

    return {k: v.astype(np.float32) for k, v in load_file(str(path)).items()
            if v.ndim == 2 and np.issubdtype(v.dtype, np.floating)}


def _read_gguf(path: Path) -> dict:
    import gguf

    out = {}
    for t in gguf.GGUFReader(str(path)).tensors:
        if len(t.shape) != 2:
            continue
        values = gguf.quants.dequantize(np.array(t.data), t.tensor_type)
        out[t.name] = np.asarray(values, np.float32).reshape(int(t.shape[1]), int(t.shape[0]))
    return out


def train_digits_mlp(seed: int = 0, hidden=(512, 256), max_iter: int = 40, cache_dir=BUILD_DIR) -> dict:
    """Train scikit-learn's MLP on the 8x8 digits; its weight matrices as ``{"layerN": (out, in)}``.

    The result is cached as safetensors in ``cache_dir`` (``None``: no cache) so the next call
    reads it instead of training again.
    """
    import warnings

    from safetensors.numpy import load_file, save_file

    cache = None
    if cache_dir is not None:
        cache = Path(cache_dir) / f"digits_mlp_{'-'.join(map(str, hidden))}_{max_iter}_seed{seed}.safetensors"
        if cache.is_file():
            return load_file(str(cache))

    from sklearn.datasets import load_digits
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    x, y = load_digits(return_X_y=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp = MLPClassifier(hidden, max_iter=max_iter, random_state=seed).fit(x / 16.0, y)
    weights = {f"layer{i + 1}": np.ascontiguousarray(c.T, dtype=np.float32) for i, c in enumerate(mlp.coefs_)}
    if cache is not None:
        with atomic_path(cache) as tmp:
            save_file(weights, str(tmp))
    return weights


def load_weight_matrices(path=None, seed: int = 0):
    """``(source description, {name: float32 (rows, cols) matrix})`` from ``path`` or the default model.

    ``path``: a ``.safetensors`` or ``.gguf`` file. Other suffixes, missing files and files over
    ``MAX_FILE_BYTES`` are refused before anything is read.
    """
    if path is None:
        path = find_course_model()
        if path is None:
            return "scikit-learn MLP trained on digits (64-512-256-10)", train_digits_mlp(seed)
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no model file at {path.name!r}")
    if path.suffix not in (".safetensors", ".gguf"):
        raise ValueError(f"model files must be .safetensors or .gguf, got {path.suffix!r}")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise ValueError(f"{path.name} is {path.stat().st_size} bytes; the limit is {MAX_FILE_BYTES} bytes (2 GiB)")
    reader = _read_safetensors if path.suffix == ".safetensors" else _read_gguf
    return path.name, reader(path)
