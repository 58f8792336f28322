"""A short curated list of real models to fetch after the course, each with its will-it-run line.

The list lives in ``data/curated_models.json``: repository, file, pinned revision and the size the
hub's listing shows, with the page it comes from (figures that could not be checked say so). The
will-it-run lines are computed here by the course's estimators, never typed in: text models by
``helpers.memory.willitrun.assess`` (the catalog architecture at the file's quantization), image
pipelines by ``helpers.images.memory.estimate``. Sizes: listed sizes in GB (10**9 bytes), memory in
GiB (2**30 bytes).
"""
import json
import re
from dataclasses import dataclass

from helpers.course.catalog import get_gpu, get_model
from helpers.course.paths import REPO_ROOT
from helpers.hub.ranges import HubFile
from helpers.images.memory import estimate
from helpers.memory.vram import usable_gpu_bytes
from helpers.memory.willitrun import assess

CURATED_PATH = REPO_ROOT / "data" / "curated_models.json"
COMMON_MACHINES = ("RTX 3070", "RTX 3060 12GB", "Apple M1 16GB", "CPU desktop DDR4-3200 dual-channel")
DEFAULT_CONTEXT = 4096  # tokens
DEFAULT_IMAGE_RESOLUTION = 512  # pixels per side
_SIZE = re.compile(r"^(\d+(?:\.\d+)?) (kB|MB|GB)$")
_UNITS = {"kB": 10**3, "MB": 10**6, "GB": 10**9}


def listed_bytes(text: str) -> int:
    """Bytes of a hub listing's size, e.g. "1.93 GB" -> 1_930_000_000 (decimal units, as listed)."""
    match = _SIZE.match(text or "")
    if not match:
        raise ValueError(f"a listed size looks like '398 MB' or '1.93 GB', got {text!r}")
    return round(float(match[1]) * _UNITS[match[2]])


@dataclass(frozen=True)
class CuratedModel:
    """One curated file (text) or pipeline (images) with where its figures come from."""

    kind: str  # "text" or "images"
    name: str
    repo: str
    revision: str
    files: tuple  # ((path in the repository, listed size text, source URL), ...)
    estimator_model: str  # text: a data/models.csv name; images: a data/image_models.json key ("" if none)
    quant: str  # text: the GGUF's quantization; images: the variant ("fp16")
    unverified: str  # what could not be checked ("" when everything was)

    @property
    def listed_bytes(self) -> int:
        return sum(listed_bytes(size) for _, size, _ in self.files)

    def hub_files(self) -> tuple:
        """The files as :class:`helpers.hub.ranges.HubFile` at the pinned revision."""
        return tuple(HubFile(self.repo, path, self.revision) for path, _, _ in self.files)


def load_curated(path=CURATED_PATH) -> list:
    """Every curated model; refuses an entry without a source for each size."""
    data = json.loads(path.read_text(encoding="utf-8"))
    out = []
    for entry in data["text"]:
        files = ((entry["file"], entry["listed_size"], entry["source"]),)
        out.append(CuratedModel("text", entry["name"], entry["repo"], entry["revision"], files,
                                entry["catalog_model"], entry["quant"], entry.get("unverified", "")))
    for entry in data["images"]:
        files = tuple((f["path"], f["listed_size"], f["source"]) for f in entry["files"])
        out.append(CuratedModel("images", entry["name"], entry["repo"], entry["revision"], files,
                                entry["estimator_model"] or "", entry["variant"], entry.get("unverified", "")))
    for model in out:
        for path, size, source in model.files:
            listed_bytes(size)
            if not source.startswith("https://"):
                raise ValueError(f"{model.name}: {path} has no source URL for its size {size!r}")
    return out


def will_it_run_line(model: CuratedModel, machine: str, context: int = DEFAULT_CONTEXT,
                     resolution: int = DEFAULT_IMAGE_RESOLUTION) -> str:
    """"yes"/"no" and why, for ``model`` on a ``data/gpus.csv`` machine, from the course's estimators."""
    gpu = get_gpu(machine)
    if model.kind == "text":
        result = assess(get_model(model.estimator_model).architecture, model.quant, context, gpu=gpu)
        speed = f", about {result.tokens_per_second:.0f} tokens/s" if result.tokens_per_second else ""
        need = result.verdict.plan.total / 2**30
        return f"{'yes' if result.verdict.fits else 'no'}: {need:.1f} GiB at {context} tokens, " \
               f"{result.verdict.reason}{speed}"
    if not model.estimator_model:
        return "no estimate: the course's image estimator does not know this pipeline's layout"
    peak = estimate(model.estimator_model, resolution, dtype=model.quant).peak_bytes
    if gpu.kind == "cpu":
        budget, where = gpu.memory_bytes, "system RAM"
    else:
        budget, where = usable_gpu_bytes(gpu), "GPU memory"
    fits = peak <= budget
    return f"{'yes' if fits else 'no'}: peak {peak / 2**30:.1f} GiB at {resolution}x{resolution}, " \
           f"{budget / 2**30:.1f} GiB of {where} usable"


def curated_table(machines=COMMON_MACHINES, context: int = DEFAULT_CONTEXT) -> list:
    """Rows for a table: model, repository file, listed size (GB), source, and one line per machine."""
    rows = []
    for model in load_curated():
        row = {"model": model.name, "kind": model.kind, "repo": model.repo, "revision": model.revision,
               "files": ", ".join(path for path, _, _ in model.files),
               "listed GB": round(model.listed_bytes / 1e9, 3),
               "sources": " ".join(source for _, _, source in model.files), "unverified": model.unverified}
        for machine in machines:
            row[machine] = will_it_run_line(model, machine, context)
        rows.append(row)
    return rows
