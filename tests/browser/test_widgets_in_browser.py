"""Open every notebook that has widgets in a real JupyterLab + headless Chromium, run all cells,
and check what a learner would see: widgets render, moving a control changes what it drives,
no tracebacks, no errors in the browser console. Screenshots go to build/browser/.
"""
import shutil

import pytest

from helpers.course.paths import BUILD_DIR, NOTEBOOKS_DIR
from tests.browser.lab import (
    CHROMIUM,
    CHROMIUM_ARGS,
    WIDGET_ERROR_TEXT,
    jupyterlab_server,
    open_notebook,
    output_errors,
    run_all_cells,
)

SCREENSHOTS = BUILD_DIR / "browser"


def widget_notebooks() -> list:
    """Notebooks whose code builds ipywidgets (directly or through a helpers.widgets.* module)."""
    found = []
    for path in sorted(NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb")):
        text = path.read_text()
        if "import ipywidgets" in text or "helpers.widgets." in text or "from ipywidgets" in text:
            found.append(path.name)
    return found


pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)")


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    root = tmp_path_factory.mktemp("lab")
    shutil.copytree(NOTEBOOKS_DIR, root / "notebooks")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with jupyterlab_server(root / "notebooks", SCREENSHOTS / "jupyterlab.log") as (base, token):
        yield base, token


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


DRIVEN_OUTPUT = """
cell => [...cell.querySelectorAll('.widget-output, .widget-html-content, img')]
          .map(n => n.tagName === 'IMG' ? n.src.slice(-200) : n.innerText).join('\\n')
"""


def first_control(page):
    """The first dropdown, else the first slider handle, else a text box with a Send button: (locator, kind)."""
    dropdown = page.locator(".jp-Cell .widget-dropdown select >> visible=true").first
    if dropdown.count():
        return dropdown, "dropdown"
    handle = page.locator(".jp-Cell .widget-slider .noUi-handle >> visible=true").first
    if handle.count():
        return handle, "slider"
    text = page.locator(".jp-Cell .widget-text input >> visible=true").first
    assert text.count(), "no dropdown, slider or text box to use"
    return text, "text"


def move(control, kind) -> None:
    """Pick the dropdown's next option, step the slider three times to the right, or type and press Send."""
    if kind == "text":
        control.fill("Say hello.")
        control.locator("xpath=ancestor::div[contains(@class, 'jp-OutputArea')][1]").get_by_role("button", name="Send").click()
    elif kind == "dropdown":
        values = control.locator("option").evaluate_all("os => os.map(o => o.value)")
        assert len(values) > 1, "dropdown with a single option"
        control.select_option(values[(values.index(control.input_value()) + 1) % len(values)])
    else:
        control.focus()
        for _ in range(3):
            control.press("ArrowRight")


def test_there_are_widget_notebooks():
    assert widget_notebooks(), "no notebook uses widgets"


@pytest.mark.parametrize("name", widget_notebooks())
def test_widgets_render_and_respond(name, lab, browser):
    base, token = lab
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    console_errors = []
    page.on("console", lambda msg: console_errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda err: console_errors.append(str(err)))
    try:
        open_notebook(page, base, token, name)
        run_all_cells(page)
        page.screenshot(path=str(SCREENSHOTS / f"{name[:-6]}.png"), full_page=False)

        assert page.locator(".jupyter-widgets").count() > 0, "no widget rendered"
        assert WIDGET_ERROR_TEXT not in page.inner_text(".jp-Notebook")
        assert output_errors(page) == []

        control, kind = first_control(page)
        cell = control.locator("xpath=ancestor::div[contains(@class, 'jp-CodeCell')][1]")
        before = cell.evaluate(DRIVEN_OUTPUT)
        move(control, kind)
        page.wait_for_function(
            "([cell, before]) => (" + DRIVEN_OUTPUT + ")(cell) !== before",
            arg=[cell.element_handle(), before], timeout=60_000, polling=250,
        )
        cell.scroll_into_view_if_needed()
        page.screenshot(path=str(SCREENSHOTS / f"{name[:-6]}_changed.png"))
        assert console_errors == [], console_errors
    finally:
        page.evaluate("() => window.jupyterapp?.shell.currentWidget?.sessionContext?.shutdown()")
        page.close()
