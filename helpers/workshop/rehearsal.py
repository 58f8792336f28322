"""A workshop rehearsed on loopback: K simulated learners use the hub at once, measured.

Each learner, in its own thread: the hub starts its server (REST API, the rehearsal service's admin
token) -> a token is issued for the learner (its "login") -> for each notebook, a kernel is started on
the learner's own server and the notebook's code cells are executed one by one through the kernel's
websocket (quick parameters injected after the ``parameters`` cell, as papermill does). Measured: time
to a running server (s), notebook wall time (s), the kernel's CPU time (s), peak resident memory (bytes)
of the learner's server + kernel, sampled every 0.2 s with psutil.

``sizing_rows`` turns those peaks, and the papermill runner's per-notebook peaks
(``build/papermill/summary.csv``), into learners per machine by RAM and by cores.
"""
import csv
import json
import math
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import requests
import websocket

from helpers.course.version import code_version

MAX_LEARNERS = 16
SAMPLE_INTERVAL_S = 0.2
OS_RESERVE_BYTES = 2**30  # 1 GiB kept for the operating system, on top of the hub and proxy measured


class RehearsalError(RuntimeError):
    """A learner's step failed or ran out of time; the message names the learner and the step."""


@dataclass
class NotebookRun:
    notebook: str
    seconds: float  # wall time, kernel start to last cell's reply
    cpu_seconds: float  # the kernel's user + system CPU time
    peak_rss_bytes: int  # the learner's server + kernel, sampled
    kernel_peak_rss_bytes: int
    status: str = "ok"
    error: str = ""


@dataclass
class LearnerRun:
    name: str
    seconds_to_server: float = math.nan
    notebooks: list = field(default_factory=list)
    status: str = "ok"
    error: str = ""


def check_learner_count(count: int) -> int:
    if not isinstance(count, int) or not 1 <= count <= MAX_LEARNERS:
        raise ValueError(f"learners must be an integer from 1 to {MAX_LEARNERS}, got {count!r}")
    return count


def learner_names(count: int) -> list:
    """learner01, learner02, ... for a rehearsal of ``count`` learners."""
    return [f"learner{i:02d}" for i in range(1, check_learner_count(count) + 1)]


def rehearsal_roster_text(count: int) -> str:
    return "\n".join(["instructor admin", *learner_names(count)]) + "\n"


def code_cells(notebook: dict, parameters: dict) -> list:
    """(source, raises_on_purpose) for each code cell, with a cell of ``parameters`` after the one tagged
    ``parameters`` (papermill's convention)."""
    cells = []
    for cell in notebook["cells"]:
        if cell["cell_type"] != "code":
            continue
        tags = cell.get("metadata", {}).get("tags", [])
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        cells.append((source, "raises-exception" in tags))
        if "parameters" in tags and parameters:
            cells.append(("\n".join(f"{name} = {value!r}" for name, value in parameters.items()), False))
    return cells


def _message(code: str, session: str) -> dict:
    return {
        "header": {"msg_id": uuid.uuid4().hex, "username": "rehearsal", "session": session,
                   "msg_type": "execute_request", "version": "5.3"},
        "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
        "content": {"code": code, "silent": False, "store_history": True, "user_expressions": {},
                    "allow_stdin": False, "stop_on_error": True},
    }


def execute_cells(ws_url: str, token: str, cells: list, deadline: float) -> None:
    """Execute cells in order over a kernel's websocket; RehearsalError on an unexpected error or timeout."""
    conn = websocket.create_connection(ws_url, header=[f"Authorization: token {token}"], timeout=30)
    session = uuid.uuid4().hex
    try:
        for index, (code, raises) in enumerate(cells):
            request = _message(code, session)
            conn.send(json.dumps(request))
            while True:
                conn.settimeout(max(1.0, deadline - time.monotonic()))
                try:
                    reply = json.loads(conn.recv())
                except websocket.WebSocketTimeoutException:
                    raise RehearsalError(f"code cell {index} did not finish in time") from None
                if reply.get("channel") == "shell" and reply["parent_header"].get("msg_id") == request["header"]["msg_id"]:
                    break
            content = reply["content"]
            if content["status"] != "ok" and not raises:
                raise RehearsalError(f"code cell {index}: {content.get('ename')}: {content.get('evalue')}")
    finally:
        conn.close()


def server_process(hub_processes, name: str):
    """The learner's single-user server among the hub's processes (same system user: environ readable)."""
    for proc in hub_processes:
        try:
            if "jupyterhub-singleuser" in " ".join(proc.cmdline()) and proc.environ().get("JUPYTERHUB_USER") == name:
                return proc
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return None


def kernel_process(server, kernel_id: str):
    """The kernel with this id among the server's children (its connection file names the id)."""
    for proc in server.children(recursive=True):
        try:
            if any(kernel_id in part for part in proc.cmdline()):
                return proc
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return None


class PeakSampler(threading.Thread):
    """Samples a server's tree RSS (bytes) and its kernel's RSS and CPU time until stopped."""

    def __init__(self, server, kernel_id: str):
        super().__init__(daemon=True)
        self.server, self.kernel_id = server, kernel_id
        self.peak_rss_bytes = self.kernel_peak_rss_bytes = 0
        self.kernel_cpu_seconds = 0.0
        self._stop_event = threading.Event()

    def sample(self) -> None:
        try:
            tree = [self.server, *self.server.children(recursive=True)]
            self.peak_rss_bytes = max(self.peak_rss_bytes, sum(p.memory_info().rss for p in tree if p.is_running()))
            kernel = kernel_process(self.server, self.kernel_id)
            if kernel:
                self.kernel_peak_rss_bytes = max(self.kernel_peak_rss_bytes, kernel.memory_info().rss)
                times = kernel.cpu_times()
                self.kernel_cpu_seconds = times.user + times.system + times.children_user + times.children_system
        except psutil.NoSuchProcess:
            pass

    def run(self) -> None:
        while not self._stop_event.wait(SAMPLE_INTERVAL_S):
            self.sample()

    def stop(self) -> None:
        self._stop_event.set()
        self.join()
        self.sample()


def start_server(hub, name: str, deadline: float) -> str:
    """Ask the hub to start ``name``'s server and wait until it is ready; its URL path, e.g. /user/ann/."""
    response = hub.api("POST", f"/users/{name}/server")
    if response.status_code not in (201, 202, 400):  # 400: already running
        raise RehearsalError(f"{name}: starting the server answered {response.status_code}: {response.text[:200]}")
    while time.monotonic() < deadline:
        server = hub.api("GET", f"/users/{name}").json()["servers"].get("", {})
        if server.get("ready"):
            return server["url"]
        time.sleep(0.3)
    raise RehearsalError(f"{name}: the server was not ready in time")


def learner_token(hub, name: str) -> str:
    """A token for ``name`` (what logging in gives a learner's browser), issued by the admin service."""
    response = hub.api("POST", f"/users/{name}/tokens", json={"note": "workshop rehearsal", "expires_in": 3600})
    if response.status_code != 201:
        raise RehearsalError(f"{name}: token request answered {response.status_code}: {response.text[:200]}")
    return response.json()["token"]


def run_notebook(hub, name: str, server_url: str, token: str, notebook: str, parameters: dict,
                 deadline: float) -> NotebookRun:
    """Start a kernel on the learner's server for ``notebook`` (path in the learner's home), run it, measure."""
    base = f"{hub.url}{server_url}api"
    headers = {"Authorization": f"token {token}"}
    nb = requests.get(f"{base}/contents/{notebook}", headers=headers, timeout=30)
    if nb.status_code != 200:
        raise RehearsalError(f"{name}: cannot read {notebook}: {nb.status_code}")
    cells = code_cells(nb.json()["content"], parameters)
    start = time.monotonic()
    kernel = requests.post(f"{base}/kernels", headers=headers, json={"name": "python3", "path": notebook}, timeout=60)
    if kernel.status_code != 201:
        raise RehearsalError(f"{name}: starting a kernel answered {kernel.status_code}: {kernel.text[:200]}")
    kernel_id = kernel.json()["id"]
    server = server_process(hub.processes(), name)
    if server is None:
        raise RehearsalError(f"{name}: no server process found")
    sampler = PeakSampler(server, kernel_id)
    sampler.start()
    status, error = "ok", ""
    try:
        execute_cells(f"ws{base[4:]}/kernels/{kernel_id}/channels", token, cells, deadline)
    except (RehearsalError, websocket.WebSocketException, OSError) as err:
        status, error = "failed", str(err)
    finally:
        seconds = time.monotonic() - start
        sampler.stop()
        requests.delete(f"{base}/kernels/{kernel_id}", headers=headers, timeout=30)
    return NotebookRun(Path(notebook).name, round(seconds, 1), round(sampler.kernel_cpu_seconds, 1),
                       sampler.peak_rss_bytes, sampler.kernel_peak_rss_bytes, status, error)


def rehearse_learner(hub, name: str, notebooks: list, parameters: dict, deadline: float) -> LearnerRun:
    """One simulated learner, start to finish; failures are recorded, not raised."""
    run = LearnerRun(name)
    start = time.monotonic()
    try:
        server_url = start_server(hub, name, deadline)
        run.seconds_to_server = round(time.monotonic() - start, 1)
        token = learner_token(hub, name)
        for notebook in notebooks:
            run.notebooks.append(run_notebook(hub, name, server_url, token, notebook, parameters, deadline))
    except (RehearsalError, requests.RequestException, OSError) as err:
        run.status, run.error = "failed", str(err)
    if any(nb.status != "ok" for nb in run.notebooks):
        run.status = "failed"
        run.error = run.error or next(nb.error for nb in run.notebooks if nb.status != "ok")
    return run


def rehearse(hub, names: list, notebooks: list, parameters=None, timeout_s=900.0) -> list:
    """Run every learner at once (one thread each) against a running hub; LearnerRun per learner."""
    check_learner_count(len(names))
    if not 1 <= timeout_s <= 3600:
        raise ValueError(f"timeout_s must be from 1 to 3600 seconds, got {timeout_s!r}")
    deadline = time.monotonic() + timeout_s
    runs = {}

    def learner(name):
        runs[name] = rehearse_learner(hub, name, notebooks, parameters or {}, deadline)

    threads = [threading.Thread(target=learner, args=(name,), daemon=True) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()) + 30)
    return [runs.get(name) or LearnerRun(name, status="failed", error="timed out") for name in names]


def read_papermill_summary(path) -> dict:
    """{notebook file name: peak RSS in bytes} for the runs that succeeded in the runner's summary.csv;
    empty when the file does not exist (run ``make run-notebooks`` first)."""
    path = Path(path)
    if not path.exists():
        return {}
    with open(path, newline="") as handle:
        return {row["notebook"]: int(row["peak_rss_bytes"]) for row in csv.DictReader(handle) if row["status"] == "ok"}


@dataclass(frozen=True)
class SizingRow:
    notebook: str
    source: str  # "rehearsal" or "papermill + server"
    per_learner_bytes: int
    learners_by_ram: int
    cores_per_learner: float  # NaN when not measured
    learners_by_cores: int  # -1 when not measured


def learners_that_fit(ram_bytes: int, reserve_bytes: int, per_learner_bytes: int) -> int:
    """How many learners of ``per_learner_bytes`` peak fit in ``ram_bytes`` after ``reserve_bytes`` (bytes)."""
    if per_learner_bytes <= 0:
        raise ValueError(f"per-learner memory must be positive bytes, got {per_learner_bytes}")
    return max(0, (ram_bytes - reserve_bytes) // per_learner_bytes)


def sizing_rows(runs: list, papermill_peaks: dict, *, ram_bytes: int, cores: int, reserve_bytes: int) -> list:
    """Learners per machine for each notebook.

    Rehearsed notebooks: the largest server + kernel peak among learners, and cores per learner = the
    kernel's CPU seconds / wall seconds (median), so learners by cores = everyone running that notebook at
    the same moment without slowing each other down. Other notebooks: the papermill kernel peak plus the
    learners' server overhead measured here (server + kernel peak - kernel peak, the largest); cores
    not measured.
    """
    by_notebook = {}
    for run in runs:
        for nb in run.notebooks:
            if nb.status == "ok":
                by_notebook.setdefault(nb.notebook, []).append(nb)
    overheads = [nb.peak_rss_bytes - nb.kernel_peak_rss_bytes for nbs in by_notebook.values() for nb in nbs]
    server_overhead = max(overheads) if overheads else 0
    rows = []
    for notebook, nbs in sorted(by_notebook.items()):
        per_learner = max(nb.peak_rss_bytes for nb in nbs)
        shares = sorted(nb.cpu_seconds / nb.seconds for nb in nbs if nb.seconds > 0)
        share = max(shares[len(shares) // 2], 0.01) if shares else math.nan
        rows.append(SizingRow(notebook, "rehearsal", per_learner, learners_that_fit(ram_bytes, reserve_bytes, per_learner),
                              round(share, 2), int(cores // share) if shares else -1))
    if server_overhead:
        for notebook, peak in sorted(papermill_peaks.items()):
            if notebook not in by_notebook:
                per_learner = peak + server_overhead
                rows.append(SizingRow(notebook, "papermill + server", per_learner,
                                      learners_that_fit(ram_bytes, reserve_bytes, per_learner), math.nan, -1))
    return sorted(rows, key=lambda row: row.notebook)


def hub_overhead_bytes(hub_processes) -> int:
    """Resident memory (bytes) of the hub and its proxy: the hub's processes that are no learner's server
    or kernel."""
    servers = [p for p in hub_processes if "jupyterhub-singleuser" in " ".join(_cmdline(p))]
    learner_pids = {p.pid for s in servers for p in [s, *s.children(recursive=True)]}
    total = 0
    for proc in hub_processes:
        if proc.pid not in learner_pids:
            try:
                total += proc.memory_info().rss
            except psutil.NoSuchProcess:
                pass
    return total


def _cmdline(proc) -> list:
    try:
        return proc.cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return []


def _mib(nbytes: int) -> str:
    return f"{nbytes / 2**20:,.0f}"


BUSY_LOAD = 0.5  # a 1-minute load average above this before the rehearsal means other work was running


def results_markdown(runs, rows, *, command: str, machine: str, ram_bytes: int, cores: int, reserve_bytes: int,
                     load=None, reference=(64 * 2**30, 16)) -> str:
    """The rehearsal's results file: what ran, per-learner measurements, the sizing table (MiB = 2**20 bytes,
    GiB = 2**30 bytes). ``load``: the machine's 1-minute load average (before, after), to show the noise."""
    ref_ram, ref_cores = reference
    lines = [
        "# Workshop rehearsal on loopback: what a learner costs",
        "",
        f"Command: `{command}` · code version {code_version()}  ",
        f"Machine: {machine}, {cores} logical cores, {ram_bytes / 2**30:.1f} GiB RAM  ",
        f"Learners at once: {len(runs)}; every learner is the same system user (SimpleLocalProcessSpawner).",
        *([f"Load average (1 min) before / after: {load[0]:.1f} / {load[1]:.1f} on {cores} cores."] if load else []),
        "",
        "Noisy by construction: the learners share the machine's cores with each other"
        + (f" (and here with other work: the load average was {load[0]:.1f} before the learners started)"
           if load and load[0] >= BUSY_LOAD else "")
        + ", so wall times are upper bounds and vary between runs; memory peaks and CPU seconds vary much less. "
        "Quick notebook parameters (as in the stored outputs).",
        "",
        "## Per learner",
        "",
        "| learner | s to running server | notebook | wall s | kernel CPU s | peak RSS server + kernel (MiB) "
        "| kernel peak (MiB) | status |",
        "| --- | ---: | --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for run in runs:
        to_server = "" if math.isnan(run.seconds_to_server) else run.seconds_to_server
        if not run.notebooks:
            lines.append(f"| {run.name} | {to_server} | | | | | | {run.status}: {run.error} |")
        for nb in run.notebooks:
            status = nb.status if not nb.error else f"{nb.status}: {nb.error}"
            lines.append(f"| {run.name} | {to_server} | {nb.notebook} | {nb.seconds} | {nb.cpu_seconds} "
                         f"| {_mib(nb.peak_rss_bytes)} | {_mib(nb.kernel_peak_rss_bytes)} | {status} |")
    lines += [
        "",
        "## Sizing: learners per machine",
        "",
        f"Reserve: the hub and proxy as measured plus {OS_RESERVE_BYTES / 2**30:.0f} GiB for the system = "
        f"{reserve_bytes / 2**30:.2f} GiB. Per learner: the peak resident memory of the learner's server and "
        "kernel (rehearsed notebooks), or the papermill runner's kernel peak (`build/papermill/summary.csv`, one "
        "notebook alone) plus the server overhead measured here. By cores: every learner running that notebook "
        "at the same moment without slowing each other down (kernel CPU seconds / wall seconds); measured only "
        "for rehearsed notebooks, and while the learners (and other work) shared the cores, so a kernel got less "
        "than it would alone: read it as an upper bound. In a real session learners do not all run at once, so cores stretch further "
        "than this column; memory does not: a kernel keeps its memory until it is shut down.",
        "",
        f"| notebook | source | per learner (MiB) | learners by RAM, this machine | by cores, this machine "
        f"| learners by RAM, {ref_ram // 2**30} GiB | by cores, {ref_cores} cores |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        measured = row.learners_by_cores >= 0
        ref_by_ram = learners_that_fit(ref_ram, reserve_bytes, row.per_learner_bytes)
        ref_by_cores = str(int(ref_cores // row.cores_per_learner)) if measured else "not measured"
        lines.append(f"| {row.notebook} | {row.source} | {_mib(row.per_learner_bytes)} | {row.learners_by_ram} "
                     f"| {row.learners_by_cores if measured else 'not measured'} | {ref_by_ram} | {ref_by_cores} |")
    if not any(row.source != "rehearsal" for row in rows):
        lines += ["", "No papermill summary was found: run `make run-notebooks` first for every notebook's row."]
    lines += ["", "The smallest number in a row is the machine's capacity for that notebook; the heaviest notebook "
              "of the day sets the room's size, unless learners shut kernels down between notebooks.", ""]
    return "\n".join(lines)
