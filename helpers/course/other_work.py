"""How busy the machine was with other work while a benchmark ran, measured instead of assumed.

A benchmark's timings are only as quiet as the machine. :class:`OtherWork` samples the whole
machine's busy CPU time and this process's own (children included) at the start and at the end;
the difference is the CPU time everything else used, as a share of all cores over the run.
"""
import time
from dataclasses import dataclass

import psutil

NOISY_SHARE = 0.10  # other work above a tenth of the machine's CPU time makes timings noisy


@dataclass(frozen=True)
class CpuSample:
    wall_s: float  # monotonic clock, seconds
    machine_busy_s: float  # CPU seconds all processes spent busy, summed over cores
    own_busy_s: float  # CPU seconds this process and its waited-for children spent


def cpu_sample() -> CpuSample:
    machine = psutil.cpu_times()
    own = psutil.Process().cpu_times()
    idle = machine.idle + getattr(machine, "iowait", 0.0)
    return CpuSample(time.monotonic(), sum(machine) - idle,
                     own.user + own.system + own.children_user + own.children_system)


def other_share(start: CpuSample, end: CpuSample, cores: int) -> float:
    """Share (0 to 1) of the machine's CPU time, over ``cores`` cores, that other processes used."""
    if cores < 1:
        raise ValueError(f"cores must be at least 1, got {cores!r}")
    wall = end.wall_s - start.wall_s
    if wall <= 0:
        raise ValueError(f"the end sample must come after the start, got {wall:.3f} s between them")
    others = (end.machine_busy_s - start.machine_busy_s) - (end.own_busy_s - start.own_busy_s)
    return min(max(others / (wall * cores), 0.0), 1.0)


def load_sentence(share: float) -> str:
    """The sentence a benchmark report states about other work, from the measured share."""
    if share > NOISY_SHARE:
        return (f"**Other work used {share:.0%} of this machine's CPU time while this ran: timings are noisy** "
                "(memory and counts are not affected).")
    return f"Other work used {share:.0%} of this machine's CPU time while this ran: a quiet machine."


class OtherWork:
    """Start it when the benchmark starts; ``sentence()`` at the end says how busy the machine was."""

    def __init__(self):
        self.start = cpu_sample()

    def share(self) -> float:
        return other_share(self.start, cpu_sample(), psutil.cpu_count() or 1)

    def sentence(self) -> str:
        return load_sentence(self.share())
