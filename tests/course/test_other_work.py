import subprocess
import sys

import pytest

from helpers.course.other_work import CpuSample, OtherWork, cpu_sample, load_sentence, other_share


def test_other_work_is_machine_busy_time_minus_our_own():
    start = CpuSample(wall_s=0.0, machine_busy_s=100.0, own_busy_s=5.0, waited_children_s=1.0)
    only_us = CpuSample(wall_s=10.0, machine_busy_s=110.0, own_busy_s=10.0, waited_children_s=6.0)
    with_others = CpuSample(wall_s=10.0, machine_busy_s=120.0, own_busy_s=10.0, waited_children_s=6.0)
    assert other_share(start, only_us, cores=2) == 0.0
    assert other_share(start, with_others, cores=2) == pytest.approx(0.5)  # 10 s of 20 core-seconds
    assert other_share(start, CpuSample(10.0, 200.0, 5.0, 1.0), cores=2) == 1.0  # clamped


def test_descendants_count_as_ours_by_the_larger_of_waiting_and_reading():
    start = CpuSample(wall_s=0.0, machine_busy_s=100.0, own_busy_s=5.0, waited_children_s=0.0)
    end = CpuSample(wall_s=10.0, machine_busy_s=116.0, own_busy_s=6.0, waited_children_s=3.0)
    # 16 busy seconds: 1 our own, 3 of waited-for children, or 12 as read from all descendants while they ran
    assert other_share(start, end, cores=2) == pytest.approx(12 / 20)
    assert other_share(start, end, cores=2, descendants_read_s=12.0) == pytest.approx(3 / 20)
    assert other_share(start, end, cores=2, descendants_read_s=2.0) == pytest.approx(12 / 20)  # waiting saw more


def test_bad_samples_and_core_counts_are_named():
    start = CpuSample(5.0, 0.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="cores must be at least 1, got 0"):
        other_share(start, CpuSample(6.0, 0.0, 0.0, 0.0), cores=0)
    with pytest.raises(ValueError, match="end sample must come after the start"):
        other_share(start, CpuSample(5.0, 0.0, 0.0, 0.0), cores=2)


def test_the_sentence_says_noisy_only_when_others_were_busy():
    assert "noisy" in load_sentence(0.35) and "35%" in load_sentence(0.35)
    assert "quiet machine" in load_sentence(0.02) and "noisy" not in load_sentence(0.02)


def test_a_live_measurement_is_a_share_and_ends_the_reading():
    work = OtherWork()
    share = work.share()
    assert 0.0 <= share <= 1.0
    assert not work.descendants._thread.is_alive()
    assert work.share() == share  # the measuring ended at the first share


def test_an_unasked_measurement_stops_reading_when_dropped():
    work = OtherWork(interval_s=0.05)
    thread = work.descendants._thread
    del work
    thread.join(timeout=10)
    assert not thread.is_alive()


# a grandchild burns 1.5 CPU seconds and says how many it used; its parent passes that on and exits at once
# (os._exit: no clean-up that would wait for it), so init waits for the orphan and its CPU time never reaches
# our children's times
BURN = "import time\nwhile time.process_time() < 1.5: pass\nprint(time.process_time(), flush=True)"
ORPHANING_CHILD = (f"import os, subprocess, sys\norphan = subprocess.Popen([sys.executable, '-c', {BURN!r}], "
                   "stdout=subprocess.PIPE, text=True)\nprint(orphan.stdout.readline(), end='', flush=True)\n"
                   "os._exit(0)")


def test_an_orphaned_grandchild_counts_as_our_own_work():
    work = OtherWork(interval_s=0.1)
    burnt_s = float(subprocess.run([sys.executable, "-c", ORPHANING_CHILD], capture_output=True, text=True,
                                   check=True).stdout)
    work.share()
    end = cpu_sample()
    assert burnt_s >= 1.5
    assert end.waited_children_s - work.start.waited_children_s < burnt_s / 2  # waiting missed the orphan
    assert work.descendants.seconds >= burnt_s / 2  # reading it while it ran did not
