"""Save and load the course's tiny Llama: ``config.json``, ``model.safetensors`` (float32), ``vocab.json``.

safetensors only: a checkpoint is never unpickled.
"""
from pathlib import Path

from safetensors.torch import load_file, save_file

from helpers.course.atomic import atomic_path
from helpers.training.tiny_llama import LlamaConfig, TinyLlama
from helpers.training.tokenizer import SpmVocab


def save_model(model: TinyLlama, out_dir) -> None:
    """Write ``config.json`` and ``model.safetensors`` (float32) atomically."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(out_dir / "model.safetensors") as tmp:
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(tmp))
    with atomic_path(out_dir / "config.json") as tmp:
        model.cfg.save(tmp)


MODEL_FILES = ("config.json", "model.safetensors", "vocab.json")


def check_model_dir(folder) -> Path:
    """``folder`` as a Path if it holds every file of :data:`MODEL_FILES`; else a clear FileNotFoundError."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"model folder {folder.name!r} does not exist; give a folder written by "
                                f"`python -m helpers.training.train` (it holds {', '.join(MODEL_FILES)})")
    missing = [name for name in MODEL_FILES if not (folder / name).is_file()]
    if missing:
        raise FileNotFoundError(f"model folder {folder.name!r} lacks {', '.join(missing)}; a folder written by "
                                f"`python -m helpers.training.train` holds {', '.join(MODEL_FILES)}")
    return folder


def load_model(folder) -> tuple:
    """(TinyLlama in eval mode, SpmVocab) from a folder written by this module (safetensors only)."""
    folder = check_model_dir(folder)
    model = TinyLlama(LlamaConfig.load(folder / "config.json"))
    model.load_state_dict(load_file(str(folder / "model.safetensors")))
    return model.eval(), SpmVocab.load(folder / "vocab.json")
