"""This process's descendants (its children, their children, ...), read while they run.

A finished child's CPU time and peak memory reach its parent only when the parent waits for it. A
process whose parent ended first is adopted by init (a server's workers, stopped together with it,
often are), and what it used never comes back. So the samplers here read every living descendant in a
background thread, every ``interval_s`` seconds, and keep what they saw: :class:`DescendantsPeak` their
summed memory, :class:`DescendantsCpu` their CPU time.
"""
import threading

import psutil


def read_descendants(read, process=None) -> dict:
    """``{(pid, start time): read(descendant)}`` for every living descendant of ``process`` (default: this
    one); the start time tells a process from a later one given the same pid. One that ends between the
    listing and the reading is left out."""
    found = {}
    for child in (process or psutil.Process()).children(recursive=True):
        try:
            found[(child.pid, child.create_time())] = read(child)
        except psutil.Error:
            pass
    return found


def descendants_rss_bytes(process=None) -> int:
    """Summed resident memory of every living descendant of ``process`` (default: this one), in bytes."""
    return sum(read_descendants(lambda child: child.memory_info().rss, process).values())


def cpu_seconds(process) -> float:
    """CPU seconds (user + system) ``process`` itself used so far, its children's not included."""
    times = process.cpu_times()
    return times.user + times.system


class Sampler:
    """Calls ``sample()`` in a daemon thread: at ``start()`` (or entering ``with``), every ``interval_s``
    seconds, and once more at ``stop()`` (or leaving ``with``), which waits for that last one."""

    def __init__(self, interval_s: float):
        if not interval_s > 0:
            raise ValueError(f"interval_s must be a number of seconds > 0, got {interval_s!r}")
        self.interval_s = interval_s
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def sample(self):
        raise NotImplementedError

    def _run(self):
        self.sample()
        while not self._stopping.wait(self.interval_s):
            self.sample()
        self.sample()

    def start(self):
        self._thread.start()
        return self

    def stop_soon(self):
        """Ask the thread to end after one last sample, without waiting for it."""
        self._stopping.set()

    def stop(self):
        self.stop_soon()
        self._thread.join()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class DescendantsPeak(Sampler):
    """``peak_bytes``: the largest :func:`descendants_rss_bytes` sampled."""

    def __init__(self, interval_s: float = 0.2):
        super().__init__(interval_s)
        self.peak_bytes = 0

    def sample(self):
        self.peak_bytes = max(self.peak_bytes, descendants_rss_bytes())


class DescendantsCpu(Sampler):
    """``seconds``: the CPU seconds this process's descendants used since this sampler was made, each as
    last read while it lived (a descendant already alive then counts from then on).

    A lower bound: what a descendant used after its last reading is missed, as is one that lived less
    than ``interval_s``.
    """

    def __init__(self, interval_s: float = 0.5):
        super().__init__(interval_s)
        self._at_start = read_descendants(cpu_seconds)
        self._last = dict(self._at_start)

    def sample(self):
        self._last = {**self._last, **read_descendants(cpu_seconds)}  # one swap: a reader never sees half

    @property
    def seconds(self) -> float:
        return sum(cpu - self._at_start.get(key, 0.0) for key, cpu in self._last.items())
