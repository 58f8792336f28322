import pytest

from helpers.course.other_work import CpuSample, OtherWork, load_sentence, other_share


def test_other_work_is_machine_busy_time_minus_our_own():
    start = CpuSample(wall_s=0.0, machine_busy_s=100.0, own_busy_s=5.0)
    only_us = CpuSample(wall_s=10.0, machine_busy_s=110.0, own_busy_s=15.0)
    with_others = CpuSample(wall_s=10.0, machine_busy_s=120.0, own_busy_s=15.0)
    assert other_share(start, only_us, cores=2) == 0.0
    assert other_share(start, with_others, cores=2) == pytest.approx(0.5)  # 10 s of 20 core-seconds
    assert other_share(start, CpuSample(10.0, 200.0, 5.0), cores=2) == 1.0  # clamped


def test_bad_samples_and_core_counts_are_named():
    start = CpuSample(5.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="cores must be at least 1, got 0"):
        other_share(start, CpuSample(6.0, 0.0, 0.0), cores=0)
    with pytest.raises(ValueError, match="end sample must come after the start"):
        other_share(start, CpuSample(5.0, 0.0, 0.0), cores=2)


def test_the_sentence_says_noisy_only_when_others_were_busy():
    assert "noisy" in load_sentence(0.35) and "35%" in load_sentence(0.35)
    assert "quiet machine" in load_sentence(0.02) and "noisy" not in load_sentence(0.02)


def test_a_live_measurement_is_a_share():
    assert 0.0 <= OtherWork().share() <= 1.0
