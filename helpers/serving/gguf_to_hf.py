"""Turn a GGUF file into a Hugging Face model folder (safetensors + config + tokenizer) for vLLM.

vLLM reads Hugging Face folders. transformers can read a GGUF file: it dequantizes every tensor
(Q4_1 blocks become the float32 values llama.cpp computes with), rebuilds the config from the
GGUF metadata and the tokenizer from its vocabulary and merges. The folder is then written with
``save_pretrained`` into a temporary folder beside the target and renamed onto it, so a finished
folder is always whole.

This file is a script for the vLLM environment (``.venv-vllm``), which holds transformers, torch and
gguf at the versions vLLM was built with; it imports nothing from the course's package. Run it as

    .venv-vllm/bin/python helpers/serving/gguf_to_hf.py [--tokenizer-only] MODEL.gguf OUT_DIR
"""
import shutil
import sys
import tempfile
from pathlib import Path


def load_dequantized(gguf_path: Path):
    """The GGUF's model (float32 weights) and tokenizer, read by transformers."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, name = str(gguf_path.parent), gguf_path.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    gguf_model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype="float32")
    return gguf_model, tokenizer


def plain_copy(gguf_model):
    """The same weights in a model transformers will save: a model read from GGUF keeps a
    ``quantization_config`` that ``save_pretrained`` refuses, so the config is rebuilt without it."""
    from transformers import AutoModelForCausalLM

    config = gguf_model.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype="float32")
    model.load_state_dict(gguf_model.state_dict())
    return model.eval()


def load_tokenizer(gguf_path: Path):
    """The GGUF's config and tokenizer, read by transformers (no weights)."""
    from transformers import AutoConfig, AutoTokenizer

    folder, name = str(gguf_path.parent), gguf_path.name
    return AutoConfig.from_pretrained(folder, gguf_file=name), AutoTokenizer.from_pretrained(folder, gguf_file=name)


def convert(gguf_path, out_dir, weights: bool = True) -> Path:
    """Write the Hugging Face folder for ``gguf_path`` at ``out_dir`` (whole or not at all);
    ``weights=False``: only the config and the tokenizer."""
    gguf_path, out_dir = Path(gguf_path), Path(out_dir)
    if not gguf_path.is_file():
        raise FileNotFoundError(f"no GGUF file at {gguf_path}")
    if out_dir.exists():
        raise FileExistsError(f"{out_dir} exists already; remove it to convert again")
    if weights:
        gguf_model, tokenizer = load_dequantized(gguf_path)
        saved = plain_copy(gguf_model)
    else:
        saved, tokenizer = load_tokenizer(gguf_path)
        if hasattr(saved, "quantization_config"):
            del saved.quantization_config
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".tmp", dir=out_dir.parent))
    try:
        saved.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        tmp.chmod(0o755)  # mkdtemp makes it private to its owner
        tmp.rename(out_dir)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return out_dir


if __name__ == "__main__":
    arguments = sys.argv[1:]
    weights = "--tokenizer-only" not in arguments
    paths = [a for a in arguments if a != "--tokenizer-only"]
    if len(paths) != 2:
        sys.exit("usage: gguf_to_hf.py [--tokenizer-only] MODEL.gguf OUT_DIR")
    print(convert(*paths, weights=weights))
