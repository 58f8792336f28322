import pytest

from helpers.course.atomic import atomic_path, write_text_atomic
from helpers.course.units import format_gb, format_gib, format_size, to_gb, to_gib


def test_gb_and_gib_differ_by_seven_percent():
    assert to_gb(24 * 2**30) == pytest.approx(25.769803776)
    assert to_gib(10**9) == pytest.approx(0.9313225746)
    assert format_gb(4.92e9) == "4.92 GB"
    assert format_gib(2**31) == "2.00 GiB"


def test_atomic_write_replaces_whole(tmp_path):
    target = tmp_path / "out.txt"
    write_text_atomic(target, "first")
    write_text_atomic(target, "second")
    assert target.read_text() == "second"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_failed_write_leaves_old_file_and_no_temp(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("crash mid-write")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_format_size():
    assert format_size(3 * 2**20) == "3.00 MiB" and format_size(2**31) == "2.00 GiB"
