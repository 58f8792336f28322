"""The course's chat model as vLLM reads it: a Hugging Face folder converted from the shipped GGUF.

vLLM loads Hugging Face folders (``config.json``, ``model.safetensors``, tokenizer files). The course
ships SmolLM2-135M-Instruct as a Q4_1 GGUF, so :func:`hf_model_dir` converts it once, inside the vLLM
environment (``helpers/serving/gguf_to_hf.py``), into ``build/vllm/<gguf name>/`` and reuses the folder
afterwards. The weights in the folder are the Q4_1 values dequantized to float32: the same numbers
llama.cpp multiplies with, stored 5.5 times larger (about 540 MB against 98 MB).
:func:`hf_tokenizer_dir` writes the config and the tokenizer alone (``build/vllm/<gguf name>.tokenizer/``,
about 4 MB, a few seconds): what ``vllm bench serve`` needs to count tokens for any server.
"""
import subprocess
from pathlib import Path

from helpers.course.paths import BUILD_DIR
from helpers.llm.chat_model import chat_model_path
from helpers.serving.vllm_env import require_vllm_env

CONVERTED_DIR = BUILD_DIR / "vllm"
CONVERTER = Path(__file__).with_name("gguf_to_hf.py")
HF_FOLDER_FILES = ("config.json", "model.safetensors", "tokenizer.json")
TOKENIZER_FOLDER_FILES = ("config.json", "tokenizer.json")


def is_hf_folder(path) -> bool:
    """True for a folder holding a converted model (config, weights and tokenizer)."""
    return Path(path).is_dir() and all((Path(path) / name).is_file() for name in HF_FOLDER_FILES)


def hf_model_dir(gguf_path=None, out_root=CONVERTED_DIR, timeout_s: float = 600.0) -> Path:
    """The Hugging Face folder for ``gguf_path`` (default: the course's chat model), converted on first use.

    The conversion runs in the vLLM environment and takes about 25 s on 2 cores; the folder is written
    whole or not at all. Raises :class:`VLLMEnvMissing` without the environment and RuntimeError with
    the converter's last lines when it fails.
    """
    gguf_path = _gguf(gguf_path)
    out_dir = Path(out_root) / gguf_path.stem
    if not is_hf_folder(out_dir):
        _convert(gguf_path, out_dir, (), timeout_s)
    return out_dir


def hf_tokenizer_dir(gguf_path=None, out_root=CONVERTED_DIR, timeout_s: float = 300.0) -> Path:
    """A folder with the config and tokenizer of ``gguf_path`` (default: the course's chat model) and no
    weights, written on first use in the vLLM environment (a few seconds). Errors as :func:`hf_model_dir`."""
    gguf_path = _gguf(gguf_path)
    out_dir = Path(out_root) / f"{gguf_path.stem}.tokenizer"
    if not all((out_dir / name).is_file() for name in TOKENIZER_FOLDER_FILES):
        _convert(gguf_path, out_dir, ("--tokenizer-only",), timeout_s)
    return out_dir


def _gguf(gguf_path) -> Path:
    gguf_path = Path(gguf_path) if gguf_path is not None else chat_model_path()
    if not gguf_path.is_file():
        raise FileNotFoundError(f"no GGUF file at {gguf_path}")
    return gguf_path


def _convert(gguf_path: Path, out_dir: Path, options: tuple, timeout_s: float) -> None:
    python = require_vllm_env()
    done = subprocess.run([str(python), str(CONVERTER), *options, str(gguf_path), str(out_dir)], capture_output=True,
                          text=True, timeout=timeout_s)
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-8:])
        raise RuntimeError(f"converting {gguf_path.name} for vLLM failed (exit code {done.returncode}):\n{tail}")
