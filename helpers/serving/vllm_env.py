"""vLLM's own Python environment, ``.venv-vllm``, created from ``requirements-vllm.txt``.

vLLM pins its own versions of torch, transformers and fastapi, which differ from the course's, so it
lives in a virtual environment of its own and runs as a separate process: the course's Python starts
``.venv-vllm/bin/python -m vllm.entrypoints.openai.api_server`` and talks to it over HTTP like to any
other server. :func:`create_vllm_env` creates the environment, installs the pinned requirements and
removes torchvision, torchaudio and torchcodec (pip installs them with vLLM; they do not load against
the CPU build of torch and break transformers' imports). A stamp file holding the requirements'
SHA-256 marks a finished environment, so a second call does nothing until the requirements change.

    python -m helpers.serving.vllm_env      # or: make vllm-env
"""
import hashlib
import subprocess
import sys
import time
from pathlib import Path

from helpers.course.atomic import write_text_atomic
from helpers.course.paths import REPO_ROOT

VLLM_VENV = REPO_ROOT / ".venv-vllm"
VLLM_REQUIREMENTS = REPO_ROOT / "requirements-vllm.txt"
UNLOADABLE_PACKAGES = ("torchvision", "torchaudio", "torchcodec")
STAMP_NAME = ".installed"


def vllm_python(venv=VLLM_VENV) -> Path:
    """The Python interpreter of the vLLM environment."""
    return Path(venv) / "bin" / "python"


def requirements_digest(requirements=VLLM_REQUIREMENTS) -> str:
    """Hex SHA-256 of the requirements file: the stamp holds it."""
    return hashlib.sha256(Path(requirements).read_bytes()).hexdigest()


def vllm_env_ready(venv=VLLM_VENV, requirements=VLLM_REQUIREMENTS) -> bool:
    """True when the environment was created from these exact requirements and its Python exists."""
    stamp = Path(venv) / STAMP_NAME
    return (vllm_python(venv).is_file() and stamp.is_file()
            and stamp.read_text().strip() == requirements_digest(requirements))


class VLLMEnvMissing(RuntimeError):
    """The vLLM environment (.venv-vllm) has not been created."""


def require_vllm_env(venv=VLLM_VENV) -> Path:
    """The vLLM environment's Python, or an error that says how to create the environment."""
    if not vllm_env_ready(venv):
        raise VLLMEnvMissing(f"vLLM is not installed: it runs in an environment of its own, {Path(venv).name}, "
                             "about 3.5 GB. Create it with `make vllm-env` (python -m helpers.serving.vllm_env)")
    return vllm_python(venv)


def _run(command: list) -> None:
    print("$", " ".join(map(str, command)), flush=True)
    subprocess.run(list(map(str, command)), check=True)


def create_vllm_env(venv=VLLM_VENV, requirements=VLLM_REQUIREMENTS, base_python=sys.executable) -> Path:
    """Create or update the vLLM environment at ``venv``; does nothing when it is up to date.

    Downloads about 1 GB on a machine whose pip cache is empty and takes about 3.5 GB of disk.
    Returns the environment's Python.
    """
    venv, requirements = Path(venv), Path(requirements)
    if not requirements.is_file():
        raise FileNotFoundError(f"no requirements file at {requirements}")
    if vllm_env_ready(venv, requirements):
        return vllm_python(venv)
    if not vllm_python(venv).is_file():
        _run([base_python, "-m", "venv", venv])
    python = vllm_python(venv)
    _run([python, "-m", "pip", "install", "--disable-pip-version-check", "-r", requirements])
    _run([python, "-m", "pip", "uninstall", "--disable-pip-version-check", "-y", *UNLOADABLE_PACKAGES])
    write_text_atomic(venv / STAMP_NAME, requirements_digest(requirements) + "\n")
    return python


def main() -> None:
    started = time.monotonic()
    python = create_vllm_env()
    print(f"vLLM environment ready: {python} ({time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
