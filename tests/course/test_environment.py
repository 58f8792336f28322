"""The environment files agree, and torch stays pinned to the CPU build this course targets."""
import re

import yaml

from helpers.course.paths import REPO_ROOT


def requirement_pins(lines) -> dict:
    pins = {}
    for line in lines:
        line = line.split("#")[0].strip()
        if not line or line.startswith("-"):
            continue
        name, _, version = line.partition("==")
        pins[name.strip().lower()] = version.strip()
    return pins


def test_environment_yml_mirrors_requirements():
    requirements = requirement_pins((REPO_ROOT / "requirements.txt").read_text().splitlines())
    env = yaml.safe_load((REPO_ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert requirement_pins(pip_section) == requirements


def test_every_requirement_is_pinned_exactly():
    for line in (REPO_ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            assert re.fullmatch(r"[A-Za-z0-9_.\-]+==[0-9][0-9A-Za-z.+]*", line), line


def test_torch_pinned_to_the_course_version():
    requirements = requirement_pins((REPO_ROOT / "requirements.txt").read_text().splitlines())
    assert requirements["torch"] == "2.13.0"


def test_design_card_packages_present():
    requirements = requirement_pins((REPO_ROOT / "requirements.txt").read_text().splitlines())
    for name in ["jupyterlab", "ipywidgets", "matplotlib", "pandas", "llama-cpp-python",
                 "diffusers", "nbval", "papermill"]:
        assert name in requirements, name
