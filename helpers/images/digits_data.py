"""The image data set of the course's diffusion model, and a judge for generated digits.

scikit-learn's ``load_digits`` (1,797 handwritten digits, 8x8 pixels, grey levels 0-16) ships
inside the package, so nothing is downloaded. The diffusion model works on the digits upsampled
to 16x16 with pixel values in [-1, 1] (-1 = background, 1 = ink).

The judge is a support-vector classifier trained on the *real* digits. It answers the question
"would someone reading this image see the digit that was asked for?": the share of generated
images that it recognises as their requested digit is the quality figure of notebook 16.

A blurred average of all the 3s is still read as a 3, so the judge cannot tell a rough sample
from a good one. :class:`DigitStats` measures the other half of quality, "do the samples vary like
real digits?": the Frechet distance between generated and real images in a few principal
components of the real digits, the idea of FID (Frechet Inception Distance) at digit scale.
"""
from dataclasses import dataclass

import numpy as np

IMAGE_SIZE = 16          # pixels per side of the images the diffusion model sees
N_DIGITS = 10            # labels 0-9
HELD_OUT_EVERY = 5       # every 5th digit is kept apart (never trained on) for checking the judge


@dataclass(frozen=True)
class Digits:
    """Images (N, 1, size, size) float32 in [-1, 1] and their labels (N,) int64 in 0-9."""
    images: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)


def upsample(images8: np.ndarray, size: int = IMAGE_SIZE) -> np.ndarray:
    """8x8 grey levels 0-16, shape (N, 8, 8) -> (N, 1, size, size) float32 in [-1, 1].

    Bilinear interpolation (pixel centres aligned, edges clamped), then 0 -> -1 and 16 -> 1.
    """
    images8 = np.asarray(images8, dtype=np.float64)
    if images8.ndim != 3 or images8.shape[1:] != (8, 8):
        raise ValueError(f"expected images of shape (N, 8, 8), got {images8.shape}")
    if size < 8:
        raise ValueError(f"size must be at least 8 pixels, got {size}")
    # source coordinate of each target pixel centre, as in align_corners=False resizing
    coords = np.clip((np.arange(size) + 0.5) * 8 / size - 0.5, 0, 7)
    lo = np.floor(coords).astype(int)
    hi = np.minimum(lo + 1, 7)
    w = coords - lo
    rows = images8[:, lo, :] * (1 - w)[None, :, None] + images8[:, hi, :] * w[None, :, None]
    out = rows[:, :, lo] * (1 - w)[None, None, :] + rows[:, :, hi] * w[None, None, :]
    return (out / 8.0 - 1.0).astype(np.float32)[:, None]


def load_digits_16(size: int = IMAGE_SIZE) -> Digits:
    """All 1,797 scikit-learn digits as ``Digits`` at ``size`` x ``size`` pixels in [-1, 1]."""
    from sklearn.datasets import load_digits

    raw = load_digits()
    return Digits(upsample(raw.images, size), raw.target.astype(np.int64))


def split(digits: Digits, every: int = HELD_OUT_EVERY) -> tuple:
    """(train, held_out): every ``every``-th digit is held out; deterministic, no shuffling."""
    if every < 2:
        raise ValueError(f"every must be at least 2, got {every}")
    held = np.zeros(len(digits), dtype=bool)
    held[::every] = True
    return (Digits(digits.images[~held], digits.labels[~held]),
            Digits(digits.images[held], digits.labels[held]))


def balanced_sample(digits: Digits, n_per_digit: int) -> Digits:
    """The first ``n_per_digit`` images of each digit 0-9, digit by digit (10 x ``n_per_digit`` images)."""
    counts = np.bincount(digits.labels, minlength=10)
    if not 1 <= n_per_digit <= counts.min():
        raise ValueError(f"n_per_digit must be between 1 and {counts.min()} (the rarest digit's count), "
                         f"got {n_per_digit!r}")
    idx = np.concatenate([np.flatnonzero(digits.labels == d)[:n_per_digit] for d in range(10)])
    return Digits(digits.images[idx], digits.labels[idx])


def to_features(images) -> np.ndarray:
    """Images (N, 1, H, W) or (N, H, W), any float dtype/torch tensor -> (N, H*W) float64 in [-1, 1]."""
    if hasattr(images, "detach"):
        images = images.detach().cpu().numpy()
    x = np.asarray(images, dtype=np.float64)
    if x.ndim == 4:
        x = x[:, 0]
    if x.ndim != 3:
        raise ValueError(f"expected images of shape (N, 1, H, W) or (N, H, W), got {x.shape}")
    return np.clip(x.reshape(len(x), -1), -1.0, 1.0)


def train_judge(digits: Digits = None):
    """A support-vector classifier (RBF kernel) fitted on real digits; deterministic.

    ``digits`` defaults to the training part of :func:`split` (held-out digits stay unseen).
    """
    from sklearn.svm import SVC

    if digits is None:
        digits, _ = split(load_digits_16())
    judge = SVC(C=10.0, gamma="scale")
    judge.fit(to_features(digits.images), digits.labels)
    return judge


def recognised(judge, images, requested) -> np.ndarray:
    """Boolean per image: does the judge read the digit that was requested?"""
    requested = np.asarray(requested)
    predicted = judge.predict(to_features(images))
    if predicted.shape != requested.shape:
        raise ValueError(f"{len(predicted)} images but {requested.size} requested labels")
    return predicted == requested


def recognised_share(judge, images, requested) -> float:
    """Share (0-1) of images that the judge recognises as their requested digit."""
    hits = recognised(judge, images, requested)
    if hits.size == 0:
        raise ValueError("no images to judge")
    return float(hits.mean())


@dataclass(frozen=True)
class DigitStats:
    """Principal components of real digits, and the mean and covariance of the real digits in them.

    Build with :func:`digit_stats`; :func:`frechet_distance` compares other images against it.
    """
    centre: np.ndarray       # (H*W,) mean real image, the origin of the components
    components: np.ndarray   # (H*W, K) orthonormal directions of largest variance
    mean: np.ndarray         # (K,) mean of the real digits' coordinates (zero up to rounding)
    cov: np.ndarray          # (K, K) their covariance

    def coordinates(self, images) -> np.ndarray:
        """Images (N, 1, H, W) in [-1, 1] -> (N, K) coordinates along the components."""
        return (to_features(images) - self.centre) @ self.components


def digit_stats(digits: Digits, n_components: int = 10) -> DigitStats:
    """:class:`DigitStats` of ``digits`` (the real ones) in their ``n_components`` leading components."""
    x = to_features(digits.images)
    if not 1 <= n_components <= min(x.shape):
        raise ValueError(f"n_components must be between 1 and {min(x.shape)}, got {n_components}")
    centre = x.mean(axis=0)
    _, _, rows = np.linalg.svd(x - centre, full_matrices=False)
    components = rows[:n_components].T
    coords = (x - centre) @ components
    return DigitStats(centre, components, coords.mean(axis=0), np.cov(coords, rowvar=False))


def frechet_distance(stats: DigitStats, images) -> float:
    """Frechet distance between ``images`` and the real digits of ``stats`` (0 = same statistics).

    Both sets are treated as Gaussians in the components: the squared distance between their
    means plus trace(C1 + C2 - 2 (C1 C2)^1/2). Lower is better; a finite sample of even real
    digits scores above 0 (more so the fewer images), so compare sets of the same size.
    """
    coords = stats.coordinates(images)
    if len(coords) < 2:
        raise ValueError(f"need at least 2 images for a covariance, got {len(coords)}")
    mean, cov = coords.mean(axis=0), np.cov(coords, rowvar=False)
    # trace((C1 C2)^1/2) = sum of the square roots of the eigenvalues of C1^1/2 C2 C1^1/2 (symmetric)
    root = _symmetric_sqrt(cov)
    cross = np.sqrt(np.clip(np.linalg.eigvalsh(root @ stats.cov @ root), 0.0, None)).sum()
    return float(np.sum((mean - stats.mean) ** 2) + np.trace(cov) + np.trace(stats.cov) - 2.0 * cross)


def _symmetric_sqrt(matrix: np.ndarray) -> np.ndarray:
    """The square root of a symmetric positive semi-definite matrix (tiny negative eigenvalues -> 0)."""
    values, vectors = np.linalg.eigh(matrix)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def share_by_digit(judge, images, requested) -> dict:
    """{digit: share recognised (0-1)} for each requested digit present."""
    requested = np.asarray(requested)
    hits = recognised(judge, images, requested)
    return {int(d): float(hits[requested == d].mean()) for d in np.unique(requested)}


def image_grid(images, ncols: int, pad: int = 1) -> np.ndarray:
    """Images (N, 1, H, W) in [-1, 1] -> one (rows*(H+pad)+pad, ncols*(W+pad)+pad) array in [0, 1].

    Filled row by row; ink is dark (0) on white paper (1), borders are mid grey, empty cells white.
    """
    x = to_features(images).reshape(len(images), *np.asarray(images).shape[-2:])
    n, h, w = x.shape
    if ncols < 1:
        raise ValueError(f"ncols must be at least 1, got {ncols}")
    nrows = -(-n // ncols)
    grid = np.full((nrows * (h + pad) + pad, ncols * (w + pad) + pad), 0.5)
    for i in range(nrows * ncols):
        r, c = divmod(i, ncols)
        cell = (1.0 - x[i]) / 2.0 if i < n else np.ones((h, w))
        grid[pad + r * (h + pad):pad + r * (h + pad) + h, pad + c * (w + pad):pad + c * (w + pad) + w] = cell
    return grid
