"""HTTP reads from a model hub: addresses, a file's first bytes by range request, bytes counted.

A Hugging Face file lives at ``{endpoint}/{owner/repo}/resolve/{revision}/{file}``; the endpoint is
an explicit argument, else the ``HF_ENDPOINT`` environment variable, else https://huggingface.co.
A range request (``Range: bytes=a-b``) answered ``206 Partial Content`` returns just those bytes and,
in ``Content-Range``, the file's full length. A server that ignores the header answers ``200`` with the
whole file: that is refused (:class:`RangesIgnoredError`) before its body is read. Every read lifts the
course's network guard explicitly (``helpers.course.offline.network_allowed``) and counts the bytes it
received (:class:`Transfer`). Failures are :class:`HubError` with a one-line message. Sizes in bytes.
"""
import http.client
import os
import re
import socket
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

from helpers.course.offline import network_allowed

DEFAULT_ENDPOINT = "https://huggingface.co"
ENDPOINT_ENV = "HF_ENDPOINT"
TIMEOUT_S = 30.0
_SPEC = re.compile(r"^(?P<repo>[\w.-]+/[\w.-]+):(?P<file>[^@]+?)(?:@(?P<revision>[\w./-]+))?$")
_CONTENT_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+)$")


class HubError(RuntimeError):
    """A hub request that failed; the message is one line that says what to do."""


class OfflineError(HubError):
    """The hub cannot be reached (no network, DNS failure, connection refused, the course's guard)."""


class RangesIgnoredError(HubError):
    """The server answered a range request with the whole file (200 instead of 206)."""


@dataclass(frozen=True)
class HubFile:
    """One file of a hub repository at a revision (branch, tag or commit)."""

    repo: str  # "owner/name"
    filename: str  # path inside the repository, e.g. "unet/diffusion_pytorch_model.safetensors"
    revision: str = "main"


def parse_hub_spec(spec: str) -> HubFile:
    """``"owner/repo:file.gguf"`` or ``"owner/repo:file.gguf@revision"`` as a :class:`HubFile`."""
    match = _SPEC.match(spec or "")
    if not match:
        raise ValueError(f"hub file must look like owner/repo:file.gguf[@revision], got {spec!r}")
    return HubFile(match["repo"], match["file"], match["revision"] or "main")


def hub_endpoint(endpoint=None) -> str:
    """The hub's base URL: ``endpoint``, else ``$HF_ENDPOINT``, else https://huggingface.co (no trailing /)."""
    url = endpoint or os.environ.get(ENDPOINT_ENV) or DEFAULT_ENDPOINT
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise ValueError(f"hub endpoint must be an http:// or https:// URL, got {url!r}")
    return url.rstrip("/")


def resolve_url(file: HubFile, endpoint=None) -> str:
    """``{endpoint}/{repo}/resolve/{revision}/{file}``, each part URL-quoted."""
    quote = urllib.parse.quote
    return (f"{hub_endpoint(endpoint)}/{file.repo}/resolve/{quote(file.revision, safe='')}/"
            f"{quote(file.filename)}")


def file_name_of(url: str) -> str:
    """The last path segment of ``url``, unquoted: the file's own name."""
    name = urllib.parse.unquote(urllib.parse.urlsplit(url).path.rsplit("/", 1)[-1])
    if not name:
        raise ValueError(f"URL names no file: {url!r}")
    return name


@dataclass
class Transfer:
    """Bytes received (response bodies) and requests made; one per inspection or download."""

    bytes_received: int = 0
    requests: int = 0


def _host(url: str) -> str:
    return urllib.parse.urlsplit(url).netloc or url


def _reason(err) -> str:
    reason = getattr(err, "reason", err)
    if isinstance(reason, socket.gaierror):
        return "the host name does not resolve"
    if isinstance(reason, ConnectionRefusedError):
        return str(reason) if "blocked" in str(reason) else "connection refused"
    if isinstance(reason, (TimeoutError, socket.timeout)):
        return "timed out"
    return str(reason)


def open_url(url: str, transfer: Transfer, headers=None, method: str = "GET", timeout: float = TIMEOUT_S):
    """An open response for ``url`` (the caller closes it), with failures as one-line :class:`HubError`."""
    request = urllib.request.Request(url, headers=dict(headers or {}), method=method)
    transfer.requests += 1
    try:
        with network_allowed():
            return urllib.request.urlopen(request, timeout=timeout)  # noqa: S310 (http/https only, checked above)
    except urllib.error.HTTPError as err:
        err.close()
        hint = {401: " (a gated or private repository: accept its licence on the hub and use a token)",
                403: " (a gated or private repository)", 404: " (check the repository, file name and revision)",
                416: " (the range lies past the end of the file)"}.get(err.code, "")
        raise HubError(f"{url}: HTTP {err.code} {err.reason}{hint}") from None
    except (urllib.error.URLError, OSError) as err:
        raise OfflineError(f"cannot reach {_host(url)} ({_reason(err)}): offline? Connect to the network, "
                           f"or set {ENDPOINT_ENV} to a mirror you can reach") from None


def read_body(response, transfer: Transfer, limit=None) -> bytes:
    """The response body (at most ``limit`` bytes), counted in ``transfer``."""
    try:
        data = response.read() if limit is None else response.read(limit)
    except (OSError, http.client.HTTPException) as err:  # connection reset, IncompleteRead
        raise OfflineError(f"the connection dropped while reading: {err}") from None
    transfer.bytes_received += len(data)
    return data


def content_range(response, url: str, start: int) -> int:
    """The file's full length from a 206 answer's ``Content-Range``; refuses a 200 (ranges ignored)."""
    if response.status == 200:
        raise RangesIgnoredError(f"{_host(url)} ignored the Range header (answered 200 with the whole file, "
                                 "not 206 with the bytes asked for): it cannot serve partial reads or resumes")
    match = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
    if response.status != 206 or not match or int(match[1]) != start:
        raise HubError(f"{url}: unexpected answer to a range request from byte {start:,}: HTTP {response.status}, "
                       f"Content-Range {response.headers.get('Content-Range')!r}")
    return int(match[3])


def read_range(url: str, start: int, end: int, transfer: Transfer) -> tuple:
    """``(bytes start..end inclusive, the file's full length)`` by one range request.

    Fewer bytes come back when the file ends before ``end``. Raises :class:`RangesIgnoredError`
    when the server ignores ranges (nothing of its body is read), :class:`OfflineError`, :class:`HubError`.
    """
    if not 0 <= start <= end:
        raise ValueError(f"byte range must satisfy 0 <= start <= end, got {start}..{end}")
    with open_url(url, transfer, {"Range": f"bytes={start}-{end}"}) as response:
        total = content_range(response, url, start)
        data = read_body(response, transfer, end - start + 1)
    return data, total


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # keep the hub's own headers (X-Linked-Etag), not the file server's


def head_headers(url: str, transfer: Transfer, timeout: float = TIMEOUT_S) -> dict:
    """Headers of a HEAD request on ``url`` without following redirects (lower-case names).

    The hub answers a resolve/ URL of a large (LFS) file with a redirect whose headers carry the
    file's SHA-256 (``X-Linked-Etag``), its size (``X-Linked-Size``) and the commit (``X-Repo-Commit``).
    """
    opener = urllib.request.build_opener(_NoRedirect)
    transfer.requests += 1
    try:
        with network_allowed():
            response = opener.open(urllib.request.Request(url, method="HEAD"), timeout=timeout)
    except urllib.error.HTTPError as err:
        if err.code in (301, 302, 303, 307, 308):
            response = err
        else:
            err.close()
            raise HubError(f"{url}: HTTP {err.code} {err.reason}") from None
    except (urllib.error.URLError, OSError) as err:
        raise OfflineError(f"cannot reach {_host(url)} ({_reason(err)}): offline? Connect to the network, "
                           f"or set {ENDPOINT_ENV} to a mirror you can reach") from None
    with response:
        return {k.lower(): v for k, v in response.headers.items()}


def get_bytes(url: str, transfer: Transfer, limit: int = 16 * 2**20) -> bytes:
    """A small file whole (e.g. model_index.json, a tree listing); refuses one over ``limit`` bytes."""
    with open_url(url, transfer) as response:
        data = read_body(response, transfer, limit + 1)
    if len(data) > limit:
        raise HubError(f"{url}: more than {limit:,} bytes; not a small metadata file")
    return data
