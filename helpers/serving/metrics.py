"""llama-server's Prometheus ``/metrics`` (started with ``--metrics``), scraped into a time series.

The endpoint answers the Prometheus text format; :func:`parse_metrics` reads it with
``prometheus_client``'s own parser. Counters (``llamacpp:prompt_tokens_total``,
``llamacpp:tokens_predicted_total``, ...) only grow, and llama-server adds a request's tokens to
them when the request ends; gauges (``llamacpp:requests_processing``: busy slots,
``llamacpp:requests_deferred``: requests waiting for a free slot) say what is happening now.
:class:`MetricsRecorder` scrapes every ``interval_s`` seconds in a background thread while a load
runs; :func:`metrics_rows` turns its samples into rows for ``pandas.DataFrame``: tokens/s from the
counters' growth between scrapes (wall-clock seconds), and the gauges as they were.

vLLM's ``/metrics`` labels every sample (``vllm:num_requests_running{engine="0",model_name="..."}``);
:func:`read_samples` picks named samples out of such a page, and ``MetricsRecorder(..., names=...)``
records those.
"""
import threading
import time
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

MIN_INTERVAL_S = 0.1


def parse_metrics(text: str) -> dict:
    """Every sample in Prometheus text ``text`` as {sample name: value}, e.g.
    {"llamacpp:prompt_tokens_total": 31.0, ...}. Labelled samples are not expected here and refused."""
    values = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.labels:
                raise ValueError(f"sample {sample.name} has labels {sample.labels}; parse_metrics reads unlabelled ones")
            values[sample.name] = sample.value
    return values


def read_samples(text: str, names) -> dict:
    """The samples called ``names`` in Prometheus text ``text``, as {name: value}, whatever their labels.
    Refuses a name that is missing, or that appears with several label sets (which one would be meant?)."""
    if isinstance(names, str):
        raise ValueError(f"names must be a list or tuple of sample names, got the string {names!r}")
    found: dict = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name in names:
                found.setdefault(sample.name, []).append(sample.value)
    for name in names:
        if len(found.get(name, ())) != 1:
            raise ValueError(f"{name} appears {len(found.get(name, ()))} times in the metrics; expected once")
    return {name: found[name][0] for name in names}


def scrape(server_url: str, names=None, timeout_s: float = 10.0) -> dict:
    """One scrape of ``{server_url}/metrics`` (the root URL, not ``/v1``), with ``time_s``: the
    monotonic clock in seconds when it was read. ``names``: only those samples (:func:`read_samples`);
    None: every sample, none labelled (:func:`parse_metrics`)."""
    with urllib.request.urlopen(f"{server_url}/metrics", timeout=timeout_s) as reply:
        text = reply.read().decode()
    return {"time_s": time.monotonic(), **(parse_metrics(text) if names is None else read_samples(text, names))}


class MetricsRecorder:
    """Scrape ``/metrics`` every ``interval_s`` seconds between ``with`` and its end (one scrape at
    each end too), all samples or only ``names`` (see :func:`scrape`). ``samples``: the scrapes in order;
    an error of the scraping thread is raised at the end."""

    def __init__(self, server_url: str, interval_s: float = 0.5, names=None):
        if not interval_s >= MIN_INTERVAL_S:
            raise ValueError(f"interval_s must be at least {MIN_INTERVAL_S} s, got {interval_s!r}")
        self.server_url, self.interval_s, self.names = server_url, interval_s, names
        self.samples: list = []
        self._stop = threading.Event()
        self._error = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            while not self._stop.wait(self.interval_s):
                self.samples.append(scrape(self.server_url, self.names))
        except Exception as err:  # handed to the owner in __exit__
            self._error = err

    def __enter__(self):
        self.samples.append(scrape(self.server_url, self.names))
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self._stop.set()
        self._thread.join()
        self.samples.append(scrape(self.server_url, self.names))
        if self._error is not None and exc_info[0] is None:
            raise self._error
        return False


def metrics_rows(samples) -> list:
    """One row per interval between consecutive scrapes: its end in seconds since the first scrape,
    prompt and generation tokens/s (counter growth over the interval's wall time), busy slots and
    deferred requests at its end."""
    samples = list(samples)
    if len(samples) < 2:
        raise ValueError(f"rates need at least two scrapes, got {len(samples)}")
    start = samples[0]["time_s"]
    rows = []
    for before, after in zip(samples, samples[1:]):
        seconds = after["time_s"] - before["time_s"]
        if seconds <= 0:
            raise ValueError(f"scrapes must be in time order; one came {seconds:.3f} s after the previous")
        grew = {name: after[name] - before[name] for name in ("llamacpp:prompt_tokens_total", "llamacpp:tokens_predicted_total")}
        rows.append({"time (s)": after["time_s"] - start,
                     "prompt (tokens/s)": grew["llamacpp:prompt_tokens_total"] / seconds,
                     "generation (tokens/s)": grew["llamacpp:tokens_predicted_total"] / seconds,
                     "busy slots": after["llamacpp:requests_processing"],
                     "deferred requests": after["llamacpp:requests_deferred"]})
    return rows
