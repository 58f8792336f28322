"""Units, said out loud. The course uses two families and always names which:

* GB  = 10**9 bytes  (file sizes on model hubs, disk, memory bandwidth in GB/s)
* GiB = 2**30 bytes  (RAM and VRAM as nvidia-smi, llama.cpp and operating systems report them)

A "24 GB" graphics card holds 24 GiB = 25.8 GB; the 7% gap matters when a model barely fits.
"""
GB = 10**9
GiB = 2**30
MB = 10**6
MiB = 2**20


def to_gb(nbytes: float) -> float:
    """Bytes to GB (10**9 bytes)."""
    return nbytes / GB


def to_gib(nbytes: float) -> float:
    """Bytes to GiB (2**30 bytes)."""
    return nbytes / GiB


def format_gb(nbytes: float, digits: int = 2) -> str:
    """'4.92 GB' (decimal gigabytes)."""
    return f"{to_gb(nbytes):.{digits}f} GB"


def format_gib(nbytes: float, digits: int = 2) -> str:
    """'4.58 GiB' (binary gibibytes)."""
    return f"{to_gib(nbytes):.{digits}f} GiB"


def format_size(nbytes: float) -> str:
    """'3.52 MiB' below 1 GiB, '4.58 GiB' above (binary units: MiB = 2**20, GiB = 2**30 bytes)."""
    return format_gib(nbytes) if abs(nbytes) >= GiB else f"{nbytes / MiB:.2f} MiB"
