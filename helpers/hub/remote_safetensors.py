"""Safetensors headers read from a hub by range requests: exact parameter counts and dtypes, no weights.

One file: its first ``FIRST_READ_BYTES`` (and the rest of the header when it is longer) are read and
checked by the course's one parser (``helpers.hub.safetensors_header``). A diffusers pipeline:
``model_index.json`` names the components; each component folder's ``*.safetensors`` (or the shards
its ``*.safetensors.index.json`` lists) are read. A transformers model: ``model.safetensors`` or the
shards of ``model.safetensors.index.json``. ``variant`` picks diffusers' ``*.fp16.safetensors`` files.
The counts feed the memory estimators: weights = parameters x bytes per parameter
(``helpers.images.memory``; ``helpers.memory.architecture.parameter_count`` for an LLM's shape).
Sizes in bytes.
"""
import json
import posixpath
import urllib.parse
from dataclasses import dataclass, field

from helpers.hub.ranges import HubError, HubFile, Transfer, file_name_of, get_bytes, hub_endpoint, read_range, resolve_url
from helpers.hub.safetensors_header import LENGTH_BYTES, header_length, parse_header, tensor_infos
from helpers.images.memory import PipelinePart

FIRST_READ_BYTES = 64 * 2**10  # 64 KiB: most headers of one model file are smaller
SUFFIX = ".safetensors"


@dataclass(frozen=True)
class WeightsReport:
    """The tensors of one component (or one model) over all its safetensors files."""

    name: str  # component ("unet", "text_encoder"...) or "model"
    files: tuple  # paths in the repository (or URLs)
    tensors: tuple  # helpers.hub.safetensors_header.TensorInfo
    file_bytes: int  # the files' total length
    config: dict = field(default_factory=dict)  # the component's config.json ({} when it has none)

    @property
    def n_parameters(self) -> int:
        return sum(t.n_elements for t in self.tensors)

    @property
    def tensor_bytes(self) -> int:
        return sum(t.nbytes for t in self.tensors)

    def dtype_bytes(self) -> dict:
        """{dtype: bytes} summed over tensors."""
        out = {}
        for t in self.tensors:
            out[t.dtype] = out.get(t.dtype, 0) + t.nbytes
        return out

    @property
    def largest_module_parameters(self) -> int:
        """Parameters of the largest single module, its own tensors only (names up to the last dot):
        what sequential CPU offload holds on the GPU at once."""
        modules = {}
        for t in self.tensors:
            module = t.name.rsplit(".", 1)[0] if "." in t.name else ""
            modules[module] = modules.get(module, 0) + t.n_elements
        return max(modules.values(), default=0)


@dataclass(frozen=True)
class RemoteWeights:
    """What an inspection found and what it cost (bytes received, requests)."""

    components: dict  # name -> WeightsReport
    bytes_received: int
    requests: int

    @property
    def n_parameters(self) -> int:
        return sum(c.n_parameters for c in self.components.values())

    @property
    def file_bytes(self) -> int:
        return sum(c.file_bytes for c in self.components.values())


def read_remote_tensors(url: str, transfer: Transfer, first_read_bytes: int = FIRST_READ_BYTES) -> tuple:
    """``(TensorInfo tuple, file length)`` of the safetensors file at ``url``, from its header alone."""
    name = file_name_of(url)
    head, total = read_range(url, 0, first_read_bytes - 1, transfer)
    need = LENGTH_BYTES + header_length(head, total, name)
    if need > len(head):
        more, _ = read_range(url, len(head), need - 1, transfer)
        head += more
    header, _ = parse_header(head, total, name)
    return tensor_infos(header, name), total


def list_repo_files(repo: str, revision: str = "main", endpoint=None, transfer: Transfer = None) -> dict:
    """{path: size in bytes} of every file in a hub repository at ``revision`` (the hub's tree API)."""
    url = (f"{hub_endpoint(endpoint)}/api/models/{repo}/tree/{urllib.parse.quote(revision, safe='')}"
           "?recursive=true")
    try:
        entries = json.loads(get_bytes(url, transfer or Transfer()))
        return {e["path"]: int(e.get("size", 0)) for e in entries if e.get("type") == "file"}
    except (ValueError, KeyError, TypeError) as err:
        raise HubError(f"{url}: not a file listing ({err})") from None


def _variant(filename: str):
    """"fp16" for "model.fp16.safetensors" or "model.safetensors.index.fp16.json"; None without one."""
    parts = posixpath.basename(filename).split(".")
    if filename.endswith(".json"):  # x.safetensors.index.json / x.safetensors.index.fp16.json
        return parts[-2] if len(parts) >= 5 else None
    return parts[-2] if len(parts) >= 3 else None


def weight_files(files, folder: str, variant=None, index_reader=None) -> list:
    """The safetensors files of one model folder ("" for the repository root), shards resolved.

    ``files``: the repository's paths. A ``*.safetensors.index[.variant].json`` wins (``index_reader``
    reads it: path -> its JSON); otherwise the ``*[.variant].safetensors`` files directly in the folder.
    """
    here = [f for f in files if posixpath.dirname(f) == folder]
    indexes = [f for f in here if ".safetensors.index." in f and f.endswith(".json") and _variant(f) == variant]
    if indexes and index_reader is not None:
        shards = sorted(set(index_reader(indexes[0]).get("weight_map", {}).values()))
        return [posixpath.join(folder, s) for s in shards]
    plain = sorted(f for f in here if f.endswith(SUFFIX) and _variant(f) == variant)
    if not plain:
        raise HubError(f"no{' ' + variant if variant else ''} {SUFFIX} weights in {folder or 'the repository root'}"
                       f" (files there: {', '.join(posixpath.basename(f) for f in here) or 'none'})")
    return plain


def _report(name, paths, repo, revision, endpoint, transfer, config=None) -> WeightsReport:
    tensors, total = [], 0
    for path in paths:
        found, size = read_remote_tensors(resolve_url(HubFile(repo, path, revision), endpoint), transfer)
        tensors += found
        total += size
    return WeightsReport(name, tuple(paths), tuple(tensors), total, config or {})


def _json_reader(repo, revision, endpoint, transfer):
    def read(path):
        try:
            return json.loads(get_bytes(resolve_url(HubFile(repo, path, revision), endpoint), transfer))
        except ValueError as err:
            raise HubError(f"{repo}/{path} is not valid JSON ({err})") from None
    return read


def inspect_pipeline(repo: str, revision: str = "main", variant=None, endpoint=None) -> RemoteWeights:
    """Every weighted component of a diffusers pipeline (``model_index.json``) from its headers."""
    transfer = Transfer()
    read_json = _json_reader(repo, revision, endpoint, transfer)
    index = read_json("model_index.json")
    files = list_repo_files(repo, revision, endpoint, transfer)
    components = {}
    for name, value in index.items():
        if name.startswith("_") or not isinstance(value, list) or value[0] is None:
            continue
        has_weights = any(posixpath.dirname(f) == name and (f.endswith(SUFFIX) or ".safetensors.index." in f)
                          for f in files)
        if has_weights:  # schedulers and tokenizers have none
            paths = weight_files(files, name, variant, read_json)
            config = read_json(f"{name}/config.json") if f"{name}/config.json" in files else {}
            components[name] = _report(name, paths, repo, revision, endpoint, transfer, config)
    if not components:
        raise HubError(f"{repo}: model_index.json lists no component with {SUFFIX} weights")
    return RemoteWeights(components, transfer.bytes_received, transfer.requests)


def inspect_model(repo: str, revision: str = "main", variant=None, endpoint=None) -> RemoteWeights:
    """A transformers model's weights (``model.safetensors`` or its shards) from their headers."""
    transfer = Transfer()
    files = list_repo_files(repo, revision, endpoint, transfer)
    paths = weight_files(files, "", variant, _json_reader(repo, revision, endpoint, transfer))
    return RemoteWeights({"model": _report("model", paths, repo, revision, endpoint, transfer)},
                         transfer.bytes_received, transfer.requests)


ESTIMATOR_KINDS = {"unet": "unet", "vae": "vae", "text_encoder": "clip_text", "text_encoder_2": "clip_text"}


def estimator_parts(found: RemoteWeights) -> dict:
    """{component: ``helpers.images.memory.PipelinePart``} from a pipeline's headers and configs, for
    ``helpers.images.memory.estimate_pipeline``: exact counts instead of the catalogue's."""
    return {name: PipelinePart(ESTIMATOR_KINDS[name], report.config, report.n_parameters,
                               report.largest_module_parameters)
            for name, report in found.components.items() if name in ESTIMATOR_KINDS}
