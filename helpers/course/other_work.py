"""How busy the machine was with other work while a benchmark ran, measured instead of assumed.

A benchmark's timings are only as quiet as the machine. :class:`OtherWork` reads the whole machine's
busy CPU time at the start and at the end, and takes away our own: this process's and its descendants'.
A descendant's time reaches us when we wait for it, but one orphaned on the way (a server's workers,
stopped with it) is waited for by init; so the descendants are also read while they run
(:class:`helpers.course.descendants.DescendantsCpu`), and the larger of the two counts. What is left
is the CPU time everything else used, as a share of all cores over the run.
"""
import time
import weakref
from dataclasses import dataclass

import psutil

from helpers.course.descendants import DescendantsCpu

NOISY_SHARE = 0.10  # other work above a tenth of the machine's CPU time makes timings noisy


@dataclass(frozen=True)
class CpuSample:
    wall_s: float  # monotonic clock, seconds
    machine_busy_s: float  # CPU seconds all processes spent busy, summed over cores
    own_busy_s: float  # CPU seconds this process spent (all its threads; not its children)
    waited_children_s: float  # CPU seconds of the ended children it waited for (theirs included)


def cpu_sample() -> CpuSample:
    machine = psutil.cpu_times()
    own = psutil.Process().cpu_times()
    idle = machine.idle + getattr(machine, "iowait", 0.0)
    return CpuSample(time.monotonic(), sum(machine) - idle, own.user + own.system,
                     own.children_user + own.children_system)


def other_share(start: CpuSample, end: CpuSample, cores: int, descendants_read_s: float = 0.0) -> float:
    """Share (0 to 1) of the machine's CPU time, over ``cores`` cores, that processes other than ours used.

    Our descendants' CPU seconds between the samples are the larger of two lower bounds: the waited-for
    children's, and ``descendants_read_s``, what the descendants used as read while they ran.
    """
    if cores < 1:
        raise ValueError(f"cores must be at least 1, got {cores!r}")
    wall = end.wall_s - start.wall_s
    if wall <= 0:
        raise ValueError(f"the end sample must come after the start, got {wall:.3f} s between them")
    descendants = max(end.waited_children_s - start.waited_children_s, descendants_read_s)
    others = (end.machine_busy_s - start.machine_busy_s) - (end.own_busy_s - start.own_busy_s) - descendants
    return min(max(others / (wall * cores), 0.0), 1.0)


def load_sentence(share: float) -> str:
    """The sentence a benchmark report states about other work, from the measured share."""
    if share > NOISY_SHARE:
        return (f"**Other work used {share:.0%} of this machine's CPU time while this ran: timings are noisy** "
                "(memory and counts are not affected).")
    return f"Other work used {share:.0%} of this machine's CPU time while this ran: a quiet machine."


class OtherWork:
    """Start it when the benchmark starts; ``share()`` or ``sentence()`` at the end says how busy the machine was.

    The measuring runs from here to the first ``share()`` (later calls give the same share); until then a
    thread reads our descendants every ``interval_s`` seconds, and stops if this object is dropped unasked.
    """

    def __init__(self, interval_s: float = 0.5):
        self.start = cpu_sample()
        self.descendants = DescendantsCpu(interval_s).start()
        weakref.finalize(self, self.descendants.stop_soon)
        self._share = None

    def share(self) -> float:
        if self._share is None:
            self.descendants.stop()
            self._share = other_share(self.start, cpu_sample(), psutil.cpu_count() or 1, self.descendants.seconds)
        return self._share

    def sentence(self) -> str:
        return load_sentence(self.share())
