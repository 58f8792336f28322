"""The helpers package is a map of the course: parts as folders, no import cycles, one GGUF reader."""
import ast
import re

from helpers.course.paths import LESSONS_DIR, REPO_ROOT

HELPERS = REPO_ROOT / "helpers"
README = HELPERS / "README.md"


def module_name(path) -> str:
    return ".".join(path.relative_to(REPO_ROOT).with_suffix("").parts).removesuffix(".__init__")


def helpers_modules() -> dict:
    """{dotted module name: file} for every module of the package."""
    return {module_name(p): p for p in HELPERS.rglob("*.py")}


def imported_helpers(path, known) -> set:
    """helpers modules a file imports anywhere (top level or inside functions; IPython magics skipped)."""
    code = "\n".join(line for line in path.read_text().splitlines() if not line.lstrip().startswith(("%", "!")))
    found = set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("helpers"):
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                found.add(full if full in known else node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("helpers")}
    return found & set(known)


def find_cycle(graph: dict):
    """One import cycle as a list of modules, or None."""
    state = {}

    def visit(node, stack):
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                cycle = visit(nxt, stack + [nxt])
                if cycle:
                    return cycle
        state[node] = "done"
        return None

    for start in sorted(graph):
        if start not in state:
            cycle = visit(start, [start])
            if cycle:
                return cycle
    return None


def test_find_cycle_finds_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a"}}) is None


def test_no_import_cycles():
    modules = helpers_modules()
    graph = {name: imported_helpers(path, modules) - {name} for name, path in modules.items()}
    assert find_cycle(graph) is None


def test_every_module_lives_in_a_part_folder():
    loose = [p.name for p in HELPERS.glob("*.py") if p.name != "__init__.py"]
    assert loose == []
    for folder in (p for p in HELPERS.iterdir() if p.is_dir() and p.name != "__pycache__"):
        assert (folder / "__init__.py").is_file(), folder.name
        assert ast.get_docstring(ast.parse((folder / "__init__.py").read_text())), folder.name


def test_tests_mirror_the_package():
    parts = {p.name for p in HELPERS.iterdir() if (p / "__init__.py").is_file()}
    test_folders = {p.name for p in (REPO_ROOT / "tests").iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert parts <= test_folders
    assert not list((REPO_ROOT / "tests").glob("test_*.py"))


def test_one_gguf_reader():
    """Only helpers.gguf.header opens GGUF files; everything else asks it."""
    def opens_gguf(path):
        return any(isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) == "GGUFReader"
                   for node in ast.walk(ast.parse(path.read_text())))

    assert [module_name(p) for p in HELPERS.rglob("*.py") if opens_gguf(p)] == ["helpers.gguf.header"]


def test_readme_names_every_module():
    text = README.read_text()
    for name in helpers_modules():
        parts = name.split(".")
        if len(parts) == 3 and parts[1] != "exercises":
            assert f"`{parts[2]}`" in text and f"`{parts[1]}/`" in text, name


def lesson_modules(lesson) -> list:
    """helpers modules a lesson imports, without the ``helpers.`` prefix."""
    modules = helpers_modules()
    return sorted(m.removeprefix("helpers.") for m in imported_helpers(lesson, modules))


def test_readme_maps_every_notebook_to_its_modules():
    rows = dict(re.findall(r"^\| (\d\d_\w+) \| (.*) \|$", README.read_text(), re.M))
    lessons = sorted(LESSONS_DIR.glob("[0-9][0-9]_*.py"))
    assert sorted(rows) == [p.stem for p in lessons]
    for lesson in lessons:
        listed = re.findall(r"`([\w.]+)`", rows[lesson.stem])
        assert listed == lesson_modules(lesson), lesson.stem


# The memory plan is the base the speed, serving and troubleshooting parts build on: its modules
# import only the machinery, the GGUF reader and each other. will-it-run is the part's front door,
# a verdict that also asks the hardware part for a speed and the hub for a remote header.
MEMORY_FRONT_DOOR = "helpers.memory.willitrun"
MEMORY_MAY_IMPORT = ("helpers.course.", "helpers.gguf.", "helpers.memory.")


def test_memory_plan_modules_import_no_higher_part():
    known = helpers_modules()
    upward = {name: sorted(m for m in imported_helpers(path, known) if not m.startswith(MEMORY_MAY_IMPORT))
              for name, path in known.items()
              if name.startswith("helpers.memory.") and name != MEMORY_FRONT_DOOR}
    assert {name: found for name, found in upward.items() if found} == {}
