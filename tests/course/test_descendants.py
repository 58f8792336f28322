"""Descendants read while they run: memory summed over all of them, CPU time from the sampler's start."""
import subprocess
import sys

import psutil
import pytest

from helpers.course.descendants import DescendantsCpu, DescendantsPeak, Sampler, cpu_seconds, descendants_rss_bytes


def test_peak_memory_counts_a_kernel_and_the_servers_it_starts_together():
    hold = "b = bytearray(100 * 2**20); b[::4096] = b'x' * len(b[::4096]); print('ready', flush=True); input()"
    holders = [subprocess.Popen([sys.executable, "-c", hold], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
               for _ in range(2)]
    try:
        assert all(h.stdout.readline().strip() == "ready" for h in holders)
        with DescendantsPeak(interval_s=0.05) as sampled:
            both = descendants_rss_bytes()
        assert both >= 200 * 2**20  # the sum of two, not the larger of them
        assert sampled.peak_bytes >= 200 * 2**20
    finally:
        for h in holders:
            h.kill()
            h.wait()


def test_a_descendant_alive_at_the_start_counts_from_then_on():
    burn_then_sleep = "import time\nwhile time.process_time() < 0.3: pass\nprint('ready', flush=True)\ntime.sleep(60)"
    sleeper = subprocess.Popen([sys.executable, "-c", burn_then_sleep], stdout=subprocess.PIPE, text=True)
    try:
        assert sleeper.stdout.readline().strip() == "ready"
        with DescendantsCpu(interval_s=0.05) as cpu:
            pass
        assert cpu_seconds(psutil.Process(sleeper.pid)) >= 0.25  # it burnt CPU before the sampler was made,
        assert cpu.seconds < 0.1  # and that does not count; asleep since, it used none
    finally:
        sleeper.kill()
        sleeper.wait()


def test_an_interval_must_be_positive():
    with pytest.raises(ValueError, match="interval_s must be a number of seconds > 0, got 0"):
        Sampler(0)
