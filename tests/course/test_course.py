import os

import numpy as np
import pytest

from helpers.course.notebook import resolve_quick, run_banner, seed_everything, start_notebook
from helpers.course.offline import HUB_OFFLINE_ENV


@pytest.mark.parametrize("value", [True, False])
def test_explicit_quick_is_kept(value, monkeypatch):
    monkeypatch.setenv("COURSE_QUICK", "1")
    assert resolve_quick(value) is value


@pytest.mark.parametrize("env,expected", [({"COURSE_QUICK": "1"}, True), ({"CI": "true"}, True),
                                          ({"COURSE_QUICK": "0"}, False), ({}, False)])
def test_quick_from_environment(env, expected, monkeypatch):
    monkeypatch.delenv("COURSE_QUICK", raising=False)
    monkeypatch.delenv("CI", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert resolve_quick(None) is expected


def test_bad_quick_value_is_refused():
    with pytest.raises(ValueError, match="'yes'"):
        resolve_quick("yes")


def test_seed_everything_repeats():
    seed_everything(3)
    first = np.random.rand(3)
    seed_everything(3)
    assert np.array_equal(first, np.random.rand(3))


def test_start_notebook_sets_hub_offline(monkeypatch):
    for key in HUB_OFFLINE_ENV:
        monkeypatch.delenv(key, raising=False)
    assert start_notebook(True) is True
    assert all(os.environ[key] == value for key, value in HUB_OFFLINE_ENV.items())


def test_start_notebook_says_which_run_made_the_outputs(capsys):
    start_notebook(True)
    assert capsys.readouterr().out.startswith("QUICK run: shortened settings")
    start_notebook(False)
    assert "QUICK = False" not in capsys.readouterr().out
    assert run_banner(False).startswith("FULL run") and "QUICK = False" in run_banner(True)
