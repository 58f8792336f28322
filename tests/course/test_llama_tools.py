import pytest

from helpers.course.llama_tools import llama_tool, tool_file_name, tools_folder


def test_windows_programs_end_in_exe():
    assert tool_file_name("llama-server", "win32") == "llama-server.exe"
    assert tool_file_name("llama-server", "linux") == "llama-server"
    assert tool_file_name("llama-bench", "darwin") == "llama-bench"


def test_installed_tools_are_found_and_missing_ones_named():
    assert llama_tool("llama-server").parent == tools_folder() and llama_tool("llama-server").is_file()
    with pytest.raises(FileNotFoundError, match="no llama-nothing in .*course.py tools"):
        llama_tool("llama-nothing")
