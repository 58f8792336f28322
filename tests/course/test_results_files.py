"""Every results file says which code produced it: a commit of this repository, with no uncommitted changes."""
import re
import subprocess

import pytest

from helpers.course.paths import REPO_ROOT

RESULTS = sorted((REPO_ROOT / "benchmarks" / "results").glob("*.md"))
VERSION = re.compile(r"code version ([0-9a-f]{7,40})(\+changes)?")


def named_version(text: str):
    """(commit, with uncommitted changes?) named by a results file's text, or None."""
    match = VERSION.search(text)
    return (match.group(1), bool(match.group(2))) if match else None


def commit_exists(commit: str) -> bool:
    found = subprocess.run(["git", "cat-file", "-e", f"{commit}^{{commit}}"], cwd=REPO_ROOT, capture_output=True)
    return found.returncode == 0


def test_the_version_is_read_from_a_header():
    assert named_version("Command: `x` · code version 1a2b3c4 · date") == ("1a2b3c4", False)
    assert named_version("code version 1a2b3c4+changes") == ("1a2b3c4", True)
    assert named_version("Command: `x` · date (UTC): 2026-12-01") is None


@pytest.mark.parametrize("results", RESULTS, ids=lambda p: p.stem)
def test_results_file_names_the_commit_it_came_from(results):
    version = named_version(results.read_text())
    assert version is not None, f"{results.name} does not say which code version produced it; rerun its command"
    commit, changed = version
    assert not changed, f"{results.name} came from {commit} with uncommitted changes: rerun it from a clean tree"
    shallow = subprocess.run(["git", "rev-parse", "--is-shallow-repository"], cwd=REPO_ROOT, capture_output=True,
                             text=True).stdout.strip() == "true"
    assert shallow or commit_exists(commit), f"{results.name} names {commit}, which is no commit of this repository"
