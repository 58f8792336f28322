"""The same settings in other runtimes: llama.cpp's CLI and server, Ollama, LM Studio.

Text only: nothing here runs or installs another runtime.
"""
import json
from pathlib import Path

# llama-cpp-python argument -> (llama.cpp CLI / llama-server flag, Ollama name, LM Studio setting)
SETTINGS_MAP = {
    "model_path": ("-m model.gguf", "FROM ./model.gguf (Modelfile)", "the model you pick in My Models"),
    "n_ctx": ("-c / --ctx-size", "num_ctx", "Context Length"),
    "n_threads": ("-t / --threads", "num_thread", "CPU Thread Pool Size"),
    "n_batch": ("-b / --batch-size", "num_batch", "Evaluation Batch Size"),
    "n_gpu_layers": ("-ngl / --n-gpu-layers", "num_gpu (layers, not GPUs)", "GPU Offload (layers slider)"),
    "seed": ("-s / --seed", "seed", "Seed"),
    "temperature": ("--temp", "temperature", "Temperature"),
    "max_tokens": ("-n / --n-predict", "num_predict", "Limit Response Length"),
    "stop": ("-r / --reverse-prompt (CLI); stop in the request (server)", "stop", "Stop Strings"),
    "chat template": ("read from the GGUF; --chat-template to override", "TEMPLATE (Go template syntax)",
                      "Prompt Template (read from the GGUF, editable)"),
    "system prompt": ("a system message in the request", "SYSTEM", "System Prompt"),
}


def _modelfile_string(text: str) -> str:
    if '"""' in text:
        raise ValueError('text for a Modelfile may not contain """')
    return f'"""{text}"""'


def ollama_modelfile(model_file: str, n_ctx: int, n_threads: int, n_gpu_layers: int, temperature: float,
                     seed: int, system: str = "", template: str = "", stop=()) -> str:
    """An Ollama Modelfile with the same settings as a llama-cpp-python load (text; nothing runs).

    ``model_file`` is written as ``FROM ./<file name>``: put the Modelfile beside the GGUF, then
    ``ollama create <name> -f Modelfile`` and ``ollama run <name>``.
    """
    for name, value in (("n_ctx", n_ctx), ("n_threads", n_threads), ("seed", seed)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name} must be a whole number >= 0, got {value!r}")
    if isinstance(n_gpu_layers, bool) or not isinstance(n_gpu_layers, int) or n_gpu_layers < -1:
        raise ValueError(f"n_gpu_layers must be -1 (all) or a whole number >= 0, got {n_gpu_layers!r}")
    lines = [f"FROM ./{Path(model_file).name}",
             f"PARAMETER num_ctx {n_ctx}",
             f"PARAMETER num_thread {n_threads}",
             f"PARAMETER num_gpu {999 if n_gpu_layers == -1 else n_gpu_layers}",
             f"PARAMETER temperature {temperature:g}",
             f"PARAMETER seed {seed}"]
    lines += [f"PARAMETER stop {json.dumps(s)}" for s in stop]
    if template:
        lines.append(f"TEMPLATE {_modelfile_string(template)}")
    if system:
        lines.append(f"SYSTEM {_modelfile_string(system)}")
    return "\n".join(lines) + "\n"


def ollama_generate_request(model: str, prompt: str, n_ctx: int, n_threads: int, n_gpu_layers: int,
                            temperature: float, seed: int, max_tokens: int) -> dict:
    """The JSON body of Ollama's REST ``POST /api/generate`` with the same settings as ``options``."""
    return {"model": model, "prompt": prompt, "stream": False,
            "options": {"num_ctx": n_ctx, "num_thread": n_threads,
                        "num_gpu": 999 if n_gpu_layers == -1 else n_gpu_layers,
                        "temperature": temperature, "seed": seed, "num_predict": max_tokens}}
