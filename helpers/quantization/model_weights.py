"""Weight matrices of a real trained model, to look at and to quantize.

``load_weight_matrices(path)`` reads the 2-D float tensors of a ``.safetensors`` or ``.gguf`` file
(never a pickle). With no path it trains a small scikit-learn MLP on the digits data set that
ships with scikit-learn (about 2 s on one core; deterministic for a given seed, then cached), so
stored notebook outputs do not change when a model file appears; ``find_course_model`` points to
the course's own tiny Llama in ``data/tiny_llama/`` when it is there, to pass as the path.
Matrices come back as float32, one row per output unit: ``W @ x`` is the layer.
"""
from pathlib import Path

import numpy as np

from helpers.course.atomic import atomic_path
from helpers.course.paths import BUILD_DIR, REPO_ROOT
from helpers.gguf.header import open_checked

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
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    try:
        tensors = load_file(str(path))
    except SafetensorError as err:
        raise ValueError(f"{path.name}: not a readable .safetensors file ({err}); "
                         "download or copy it again, or pick another MODEL_PATH") from None
    return {k: v.astype(np.float32) for k, v in tensors.items()
            if v.ndim == 2 and np.issubdtype(v.dtype, np.floating)}


def _read_gguf(path: Path) -> dict:
    import gguf

    out = {}
    for t in open_checked(path).tensors:
        if len(t.shape) != 2:
            continue
        values = gguf.quants.dequantize(np.array(t.data), t.tensor_type)
        out[t.name] = np.asarray(values, np.float32).reshape(int(t.shape[1]), int(t.shape[0]))
    return out


HELDOUT_SHARE = 0.25  # digits kept out of training, to measure the model's quality on


def digits_split(seed: int = 0):
    """``(x_train, y_train, x_heldout, y_heldout)``: scikit-learn's digits, pixels scaled to 0..1."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    x_train, x_heldout, y_train, y_heldout = train_test_split(x / 16.0, y, test_size=HELDOUT_SHARE,
                                                              random_state=seed, stratify=y)
    return x_train, y_train, x_heldout, y_heldout


def train_digits_mlp(seed: int = 0, hidden=(512, 256), max_iter: int = 40, cache_dir=BUILD_DIR) -> dict:
    """Train scikit-learn's MLP on 75% of the 8x8 digits (ReLU hidden layers, softmax output).

    Returns ``{"layerN": (out, in) weight matrix, "layerN.bias": (out,) bias}``, float32. Cached as
    safetensors in ``cache_dir`` (``None``: no cache) so the next call reads it instead of training.
    """
    import warnings

    from safetensors.numpy import load_file, save_file

    cache = None
    if cache_dir is not None:
        stem = f"digits_mlp_heldout{HELDOUT_SHARE:g}_{'-'.join(map(str, hidden))}_{max_iter}_seed{seed}"
        cache = Path(cache_dir) / f"{stem}.safetensors"
        if cache.is_file():
            return load_file(str(cache))

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    x_train, y_train, _, _ = digits_split(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp = MLPClassifier(hidden, max_iter=max_iter, random_state=seed).fit(x_train, y_train)
    params = {}
    for i, (w, b) in enumerate(zip(mlp.coefs_, mlp.intercepts_)):
        params[f"layer{i + 1}"] = np.ascontiguousarray(w.T, dtype=np.float32)
        params[f"layer{i + 1}.bias"] = b.astype(np.float32)
    if cache is not None:
        with atomic_path(cache) as tmp:
            save_file(params, str(tmp))
    return params


def mlp_logits(params: dict, x) -> np.ndarray:
    """Forward pass of the digits MLP: ReLU after every layer but the last; returns logits (n, 10)."""
    h = np.asarray(x, np.float64)
    n_layers = sum(1 for k in params if not k.endswith(".bias"))
    for i in range(1, n_layers + 1):
        h = h @ params[f"layer{i}"].T.astype(np.float64) + params[f"layer{i}.bias"]
        if i < n_layers:
            h = np.maximum(h, 0)
    return h


def classifier_quality(params: dict, x, y) -> dict:
    """Held-out quality: mean cross-entropy (nats), its perplexity exp(cross-entropy) and accuracy.

    Perplexity here is over the 10 digit classes: 1 is a perfectly confident right answer, 10 a
    uniform guess. It is the same measure language models report, over tokens instead of digits.
    """
    logits = mlp_logits(params, x)
    logits -= logits.max(axis=1, keepdims=True)
    log_probs = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    y = np.asarray(y)
    cross_entropy = float(-log_probs[np.arange(len(y)), y].mean())
    return {"cross-entropy": cross_entropy, "perplexity": float(np.exp(cross_entropy)),
            "accuracy": float((logits.argmax(axis=1) == y).mean())}


def load_weight_matrices(path=None, seed: int = 0):
    """``(source description, {name: float32 (rows, cols) matrix})`` from ``path`` or the digits MLP.

    ``path``: a ``.safetensors`` or ``.gguf`` file, absolute or relative to the course folder (or to
    the working directory). Other suffixes, missing files and files over
    ``MAX_FILE_BYTES`` are refused before anything is read.
    """
    if path is None:
        params = train_digits_mlp(seed)
        return "scikit-learn MLP trained on digits (64-512-256-10)", {k: v for k, v in params.items() if v.ndim == 2}
    given = path
    path = Path(path)
    if not path.is_absolute() and not path.is_file():
        path = REPO_ROOT / path  # a notebook runs in notebooks/; relative paths start at the course folder
    if not path.is_file():
        raise FileNotFoundError(f"no model file at {str(given)!r} (a relative path starts at the course folder)")
    if path.suffix not in (".safetensors", ".gguf"):
        raise ValueError(f"model files must be .safetensors or .gguf, got {path.suffix!r}")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise ValueError(f"{path.name} is {path.stat().st_size} bytes; the limit is {MAX_FILE_BYTES} bytes (2 GiB)")
    reader = _read_safetensors if path.suffix == ".safetensors" else _read_gguf
    return path.name, reader(path)
