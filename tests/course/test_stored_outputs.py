"""What a learner reads without running anything: stored outputs free of placeholders and stale claims."""
import re

import nbformat
import pytest

from helpers.course.paths import NOTEBOOKS_DIR, REPO_ROOT

PLACEHOLDERS = re.compile(r"TO BE COMPLETED|\bTODO\b|\bFIXME\b|\bXXX\b")
# "none yet in data/x/", "no files yet in data/x": claims that an artefact is missing
MISSING_CLAIM = re.compile(r"(?:none|no \w+) yet in ([\w./-]+)")


def output_texts(notebook) -> list:
    """(cell index, text) of every stored text output of a notebook."""
    texts = []
    for index, cell in enumerate(nbformat.read(notebook, as_version=4).cells):
        for output in cell.get("outputs", []):
            text = output.get("text") or output.get("data", {}).get("text/plain") or ""
            texts.append((index, "".join(text)))
    return texts


def stale_findings(texts, root=REPO_ROOT) -> list:
    """Placeholders, and 'none yet in <folder>' where the folder has files."""
    found = []
    for index, text in texts:
        found += [f"cell {index}: placeholder {m.group(0)!r}" for m in PLACEHOLDERS.finditer(text)]
        for m in MISSING_CLAIM.finditer(text):
            folder = root / m.group(1)
            if folder.is_dir() and any(folder.iterdir()):
                found.append(f"cell {index}: says {m.group(0)!r} but {m.group(1)} has files")
    return found


def test_findings_catch_placeholders_and_stale_claims(tmp_path):
    (tmp_path / "data" / "model").mkdir(parents=True)
    (tmp_path / "data" / "model" / "weights.gguf").write_bytes(b"x")
    texts = [(0, "TO BE COMPLETED: run the benchmark"), (1, "file: none yet in data/model/"),
             (2, "file: none yet in data/empty/"), (3, "all good")]
    assert stale_findings(texts, tmp_path) == [
        "cell 0: placeholder 'TO BE COMPLETED'",
        "cell 1: says 'none yet in data/model/' but data/model/ has files"]


@pytest.mark.parametrize("notebook", sorted(NOTEBOOKS_DIR.glob("*.ipynb")), ids=lambda p: p.stem)
def test_stored_outputs_have_no_placeholders_or_stale_claims(notebook):
    assert stale_findings(output_texts(notebook)) == []


TABLE_CELL = re.compile(r"<t[dh][^>]*>(.*?)</t[dh]>", re.S)


def cut_table_cells(notebook) -> list:
    """(cell index, cell text) of every stored HTML table cell that ends cut short ("..." or "…")."""
    found = []
    for index, cell in enumerate(nbformat.read(notebook, as_version=4).cells):
        for output in cell.get("outputs", []):
            html = "".join(output.get("data", {}).get("text/html", ""))
            found += [(index, text.strip()[-60:]) for text in TABLE_CELL.findall(html)
                      if text.strip().endswith(("...", "…"))]
    return found


def test_cut_cells_are_found(tmp_path):
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("t", outputs=[nbformat.v4.new_output(
        "execute_result", {"text/html": "<table><tr><td>fits: all blocks ...</td><td>whole</td></tr></table>"})])])
    path = tmp_path / "n.ipynb"
    nbformat.write(notebook, path)
    assert cut_table_cells(path) == [(0, "fits: all blocks ...")]


@pytest.mark.parametrize("notebook", sorted(NOTEBOOKS_DIR.glob("*.ipynb")), ids=lambda p: p.stem)
def test_no_stored_table_cell_is_cut_short(notebook):
    assert cut_table_cells(notebook) == []


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
STATIC_VIEWS = {"image/png", "text/html"}
WIDGET_IMPORT = re.compile(r"from helpers\.widgets\.(\w+) import \(?([\w,\s]+)\)?")


def widget_functions(cells) -> dict:
    """Name -> helpers.widgets module, for every name a notebook imports from helpers.widgets."""
    names = {}
    for cell in cells:
        for match in WIDGET_IMPORT.finditer(cell.source):
            names.update({name: match.group(1) for name in re.findall(r"\w+", match.group(2))})
    return names


def widget_modules_called(source, names) -> set:
    return {names[name] for name in re.findall(r"\b(\w+)\(", source) if name in names}


def stored_kinds(cell) -> set:
    return {kind for output in cell.get("outputs", []) for kind in output.get("data", {})}


def widgets_without_static_view(cells) -> list:
    """Code cells that show a helpers.widgets widget with no figure or table from the same widget module
    in that cell or the code cell just before or after it: blank wherever no kernel runs."""
    code = [cell for cell in cells if cell.cell_type == "code"]
    names = widget_functions(code)
    found = []
    for i, cell in enumerate(code):
        modules = widget_modules_called(cell.source, names)
        if WIDGET_VIEW not in stored_kinds(cell) or not modules:
            continue  # not a course widget (a progress bar, say)
        beside = code[max(i - 1, 0):i] + code[i + 1:i + 2]
        if not (stored_kinds(cell) & STATIC_VIEWS or any(
                stored_kinds(other) & STATIC_VIEWS and widget_modules_called(other.source, names) & modules
                for other in beside)):
            found.append(f"code cell {i}: a widget of helpers.widgets.{', '.join(sorted(modules))} with no static view beside it")
    return found


def test_a_widget_without_a_static_view_is_found():
    def cell(source, kinds):
        return nbformat.v4.new_code_cell(source, outputs=[{"output_type": "display_data", "metadata": {},
                                                           "data": {kind: "x" for kind in kinds}}])
    imports = cell("from helpers.widgets.toy import toy_app, toy_figure", [])
    widget = cell("toy_app()", [WIDGET_VIEW, "text/plain"])
    figure = cell("toy_figure(1)", ["image/png"])
    unrelated = cell("plt.plot([1])", ["image/png"])
    progress = cell("train()", [WIDGET_VIEW])
    assert widgets_without_static_view([imports, figure, widget]) == []
    assert widgets_without_static_view([imports, widget, figure]) == []
    assert widgets_without_static_view([imports, progress]) == []
    assert widgets_without_static_view([imports, unrelated, widget]) == [
        "code cell 2: a widget of helpers.widgets.toy with no static view beside it"]
    assert widgets_without_static_view([imports, figure, unrelated, widget]) == [
        "code cell 3: a widget of helpers.widgets.toy with no static view beside it"]


@pytest.mark.parametrize("notebook", sorted(NOTEBOOKS_DIR.glob("*.ipynb")), ids=lambda p: p.stem)
def test_every_widget_has_a_static_view_beside_it(notebook):
    assert widgets_without_static_view(nbformat.read(notebook, as_version=4).cells) == []
