"""Drive a real JupyterLab in headless Chromium: start a private server, open a notebook, run it.

The server listens on 127.0.0.1 only, with a random token, and serves a temporary copy of the
notebooks so the committed ones are never modified by autosave.
"""
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
WIDGET_ERROR_TEXT = "Error displaying widget"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_serving(url: str, process, timeout_s: float = 90.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"JupyterLab exited early with code {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"JupyterLab did not answer at {url} within {timeout_s:.0f} s")


def private_jupyter_env(folder: Path) -> dict:
    """Environment for a server with private settings and workspaces, and no news pop-up."""
    config = folder / "jupyter-config"
    (config / "labconfig").mkdir(parents=True, exist_ok=True)
    (config / "labconfig" / "page_config.json").write_text(
        json.dumps({"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}))
    settings = folder / "lab-settings" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True, exist_ok=True)
    # Render every cell (no virtual scrolling), so controls and outputs below the fold are in the page.
    (settings / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    return {**os.environ, "JUPYTER_CONFIG_DIR": str(config),
            "JUPYTERLAB_SETTINGS_DIR": str(folder / "lab-settings"),
            "JUPYTERLAB_WORKSPACES_DIR": str(folder / "lab-workspaces")}


@contextmanager
def jupyterlab_server(root: Path, log_path: Path):
    """Yield (base_url, token) of a JupyterLab serving ``root``; always stopped afterwards."""
    port, token = free_port(), secrets.token_hex(16)
    command = [
        sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}", "--expose-app-in-browser",
        "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly",
    ] + (["--allow-root"] if os.geteuid() == 0 else [])
    with open(log_path, "w") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=private_jupyter_env(root.parent))
        try:
            base = f"http://127.0.0.1:{port}"
            wait_until_serving(f"{base}/api/status?token={token}", process)
            yield base, token
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


RUN_ALL_AND_WAIT = """
async () => {
  const app = window.jupyterapp;
  const panel = app.shell.currentWidget;
  await panel.sessionContext.ready;
  await app.commands.execute('notebook:run-all-cells');
}
"""

CELLS_STILL_RUNNING = """
() => {
  const prompts = [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')].map(p => p.textContent);
  const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session?.kernel;
  return prompts.some(t => t.includes('*')) || !kernel || kernel.status !== 'idle'
    || prompts.some(t => t.trim() === '[ ]:' || t.trim() === '');
}
"""


def open_notebook(page, base: str, token: str, name: str, timeout_ms: int = 120_000) -> None:
    """Open one notebook in a fresh workspace of its own, so no other notebook's cells are in the page."""
    workspace = "w-" + "".join(c if c.isalnum() else "-" for c in name)
    page.goto(f"{base}/lab/workspaces/{workspace}/tree/{name}?reset&token={token}", wait_until="domcontentloaded")
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell.currentWidget "
                           "&& window.jupyterapp.shell.currentWidget.sessionContext", timeout=timeout_ms)
    page.wait_for_selector(".jp-Notebook .jp-Cell", state="attached", timeout=timeout_ms)


def run_all_cells(page, timeout_ms: int = 300_000) -> None:
    """Run every cell and wait until the kernel is idle with no cell pending."""
    page.evaluate(RUN_ALL_AND_WAIT)
    page.wait_for_timeout(1000)
    page.wait_for_function(f"() => !({CELLS_STILL_RUNNING})()", timeout=timeout_ms, polling=500)
    page.wait_for_timeout(1500)  # let widget views finish rendering


def output_errors(page) -> list:
    """Tracebacks shown in output areas (error outputs), as text."""
    return page.eval_on_selector_all(
        ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']",
        "nodes => nodes.map(n => n.textContent).filter(t => t.includes('Traceback') || t.includes('Error'))",
    )
