"""The smallest generative text model: a character bigram model (counts of which character follows which).

It already shows the two ideas every LLM shares: a model gives a probability distribution over the
next token, and text is generated one token at a time, each choice fed back in (autoregression).
"""
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from helpers.course.paths import REPO_ROOT


@dataclass
class BigramModel:
    alphabet: str          # every character the model knows, in a fixed order
    counts: np.ndarray     # counts[i, j]: how often alphabet[j] followed alphabet[i] (+ smoothing)

    def index(self, char: str) -> int:
        position = self.alphabet.find(char)
        if len(char) != 1 or position < 0:
            raise ValueError(f"{char!r} is not in the model's alphabet of {len(self.alphabet)} characters")
        return position

    def next_char_probabilities(self, char: str, temperature: float = 1.0) -> np.ndarray:
        """P(next character | ``char``), sharpened (temperature < 1) or flattened (> 1)."""
        if not temperature > 0:
            raise ValueError(f"temperature must be > 0, got {temperature!r}")
        logits = np.log(self.counts[self.index(char)]) / temperature
        weights = np.exp(logits - logits.max())
        return weights / weights.sum()


def fit_bigram(text: str, smoothing: float = 0.01) -> BigramModel:
    """Count character pairs in ``text``; ``smoothing`` is added to every count so nothing has P=0."""
    if len(text) < 2:
        raise ValueError(f"need at least 2 characters of text, got {len(text)}")
    if not smoothing > 0:
        raise ValueError(f"smoothing must be > 0, got {smoothing!r}")
    alphabet = "".join(sorted(set(text)))
    lookup = {c: i for i, c in enumerate(alphabet)}
    ids = np.array([lookup[c] for c in text])
    counts = np.full((len(alphabet), len(alphabet)), smoothing)
    np.add.at(counts, (ids[:-1], ids[1:]), 1)
    return BigramModel(alphabet, counts)


def generate(model: BigramModel, start: str, length: int, temperature: float = 1.0, seed: int = 0) -> str:
    """Sample ``length`` characters after ``start``, one at a time (the autoregressive loop)."""
    if length < 0:
        raise ValueError(f"length must be >= 0, got {length!r}")
    rng = np.random.default_rng(seed)
    text = start
    for _ in range(length):
        probabilities = model.next_char_probabilities(text[-1], temperature)
        text += model.alphabet[rng.choice(len(probabilities), p=probabilities)]
    return text


def average_surprise_bits(model: BigramModel, text: str) -> float:
    """Mean -log2 P(next char) over ``text``: lower means the model predicts it better."""
    total = 0.0
    for current, following in zip(text, text[1:]):
        total -= np.log2(model.next_char_probabilities(current)[model.index(following)])
    return total / (len(text) - 1)


def read_training_text(path) -> str:
    """The UTF-8 text of ``path`` (absolute, or relative to the course folder or working directory).

    A missing file or one that is not UTF-8 text is refused with a message naming the path.
    """
    given, path = path, Path(path)
    if not path.is_absolute() and not path.is_file():
        path = REPO_ROOT / path  # a notebook runs in notebooks/; relative paths start at the course folder
    if not path.is_file():
        raise FileNotFoundError(f"no text file at {str(given)!r} (a relative path starts at the course folder); "
                                "give a UTF-8 text file, or None for the course's Shakespeare")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(f"{path.name} is not UTF-8 text (byte {err.start} cannot be decoded): "
                         "give a plain-text file") from None
