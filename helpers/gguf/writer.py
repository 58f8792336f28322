"""The one GGUF writing sequence: metadata, then tensors, then header, key-values and tensor data.

``gguf.GGUFWriter`` needs its calls in this order; every file the course writes (random-weight
models, the trained tiny Llama, the quantizer's check file) goes through :func:`write_gguf_file`,
so the order lives in one place and every file is written atomically (``helpers.course.atomic``).
"""
from pathlib import Path

from helpers.course.atomic import atomic_path


def write_gguf_file(path, architecture: str, add_metadata, tensors) -> Path:
    """Write a GGUF file at ``path`` atomically and return its path.

    ``architecture``: llama.cpp's architecture name (``"llama"``, ``"qwen2"``...).
    ``add_metadata``: called with the ``gguf.GGUFWriter`` to add the key-values.
    ``tensors``: ``(name, numpy array)`` pairs, in file order (arrays in numpy order, rows first).
    """
    import gguf

    path = Path(path)
    with atomic_path(path) as tmp:
        writer = gguf.GGUFWriter(str(tmp), architecture)
        add_metadata(writer)
        for name, data in tensors:
            writer.add_tensor(name, data)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
    return path
