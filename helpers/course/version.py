"""Which code a figure came from: the git commit of the working tree, said in every results file."""
import subprocess

from helpers.course.paths import REPO_ROOT

RESULTS = "benchmarks/results"  # what benchmarks write: changes there are figures, not code


def code_version() -> str:
    """The short commit hash, with "+changes" when tracked files other than the results differ from it
    (a benchmark rewriting its own results file leaves the code as it was); "unknown" outside git."""
    def git(*args) -> str:
        return subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, check=True).stdout.strip()

    try:
        commit = git("rev-parse", "--short", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no", "--", ".", f":(exclude){RESULTS}")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + ("+changes" if dirty else "")
