"""End to end, in a real browser: JupyterLab, started as `make lab` starts it, runs chapter 1.

nbval checks every stored output in a kernel that pytest drives. This test checks what a
student sees instead: the server `make lab` starts (same flags, root folder notebooks/), the
notebook opened by URL in headless Chromium, Edit > Clear Outputs of All Cells, then
Run > Run All Cells, as a person would click them. It then asserts, on the page itself, that

* every code cell ran once, top to bottom, in a fresh kernel (prompts [1] ... [n]);
* no cell shows stderr (JupyterLab 4 renders a traceback as an output with MIME type
  application/vnd.jupyter.stderr; the stored notebook has none, warnings included);
* the exercise checks print their verdicts and every stored figure is drawn again;
* the notebook file on disk is unchanged (autosave is off: the test never writes into notebooks/).

A screenshot goes to test-artifacts/browser/ (also on failure), with the server's log.

Requirements: Debian's Chromium at /usr/bin/chromium and the `playwright` Python package.
Playwright never downloads a browser here: PLAYWRIGHT_BROWSERS_PATH points at an empty folder
and the browser is launched from executable_path. Without them the test skips, unless
DL4HEALTH_REQUIRE_BROWSER=1 (set by .ci/run), where it fails instead.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
from notebook_env import apply_kernel_environment  # noqa: E402

NOTEBOOK = "01_dense_backprop.ipynb"
# Printed by the exercise checks of chapter 1 when the stored solutions run.
EXPECTED_LINES = ("✔ dense_backward: correct", "✔ hidden_delta: correct")
CHROMIUM = Path("/usr/bin/chromium")
# Playwright adds --headless and a --user-data-dir itself (a new, empty one per run). Without
# the background-networking flags Chromium keeps trying to reach Google's hosts, which this
# offline test must never do.
CHROMIUM_ARGS = [
    "--no-sandbox",  # root in a container has no user namespace for the sandbox
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-proxy-server",
]
ARTIFACTS = ROOT / "test-artifacts" / "browser"
SERVER_START_SECONDS = 90
PAGE_TIMEOUT_MS = 90_000
RUN_ALL_TIMEOUT_MS = 600_000

# JupyterLab user settings for the test's own (temporary) settings folder.
LAB_USER_SETTINGS = {
    # No request for the news feed or for updates (offline), and no toast over the cells.
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
    # Autosave would write the executed notebook back into notebooks/ after 120 s.
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
}


def _browser_unavailable(reason: str):
    """Skip, or fail when the caller (CI) demands the browser test."""
    if os.environ.get("DL4HEALTH_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason}; DL4HEALTH_REQUIRE_BROWSER=1 says this test must run")
    pytest.skip(reason)


@pytest.fixture
def sync_playwright():
    """Playwright's sync API, or a skip/fail naming what is missing."""
    if not CHROMIUM.exists():
        _browser_unavailable(f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _browser_unavailable("the playwright package is not installed (it is in the test extra)")
    return sync_playwright


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _lab_environment(tmp: Path, data_dir: Path) -> dict[str, str]:
    """The server's environment, which its kernels inherit: the notebooks' one
    (tools/notebook_env.py), offline, with every Jupyter/IPython folder in ``tmp``."""
    env = os.environ.copy()
    apply_kernel_environment(env)
    # ipykernel does not capture C-level stderr while PYTEST_CURRENT_TEST is set; a kernel
    # of `make lab` does, so the test kernel must not see pytest's variables.
    for name in [n for n in env if n.startswith("PYTEST_")]:
        del env[name]
    env["DL4HEALTH_DATA_DIR"] = str(data_dir)
    env["DL4HEALTH_OFFLINE"] = "1"
    folders = {
        "JUPYTER_CONFIG_DIR": "config",
        "JUPYTER_DATA_DIR": "data",
        "JUPYTER_RUNTIME_DIR": "runtime",
        "JUPYTERLAB_SETTINGS_DIR": "lab-settings",
        "JUPYTERLAB_WORKSPACES_DIR": "lab-workspaces",
        "IPYTHONDIR": "ipython",
    }
    for var, name in folders.items():
        (tmp / name).mkdir()
        env[var] = str(tmp / name)
    for relative, settings in LAB_USER_SETTINGS.items():
        path = tmp / "lab-settings" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(settings))
    return env


@dataclass
class Lab:
    url: str
    token: str
    log: Path


def _wait_until_serving(proc: subprocess.Popen, status_url: str, log: Path) -> None:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never a proxy
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"JupyterLab exited with code {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with opener.open(status_url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    pytest.fail(f"JupyterLab did not answer within {SERVER_START_SECONDS} s:\n{log.read_text()[-3000:]}")


@pytest.fixture
def lab(tmp_path, shared_data_dir):
    """A JupyterLab server on a free loopback port, started with `make lab`'s flags."""
    port, token = _free_port(), secrets.token_hex(16)
    env = _lab_environment(tmp_path, shared_data_dir)
    command = [
        sys.executable, "-m", "jupyterlab",  # = .venv/bin/jupyter lab
        # The flags of `make lab` ...
        "--ServerApp.root_dir=notebooks",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        *(["--allow-root"] if os.geteuid() == 0 else []),
        # ... and the test's own: a known token, no browser of its own, nothing fetched
        # from the internet, checkpoints kept out of notebooks/.
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        "--no-browser",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        f"--FileCheckpoints.checkpoint_dir={tmp_path / 'checkpoints'}",
    ]
    log = tmp_path / "jupyter-server.log"
    with log.open("w") as log_file:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_serving(proc, f"{url}/api/status?token={token}", log)
        yield Lab(url=url, token=token, log=log)
    finally:
        proc.terminate()  # SIGTERM: the server shuts its kernels down, then exits
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(log, ARTIFACTS / "jupyter-server.log")


def _click_menu(page, menu: str, item: str) -> None:
    """Open a menu of the menu bar and click one of its items, by their visible labels."""
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(rf"^{re.escape(menu)}$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(rf"^{re.escape(item)}$")).click()


def _prompts(page) -> list[str]:
    return [t.strip() for t in page.locator(".jp-Notebook .jp-CodeCell .jp-InputPrompt").all_text_contents()]


# True once a run has ended: no cell queued or running ([*]), at least one executed, and
# the notebook's kernel indicator idle.
RUN_FINISHED_JS = """() => {
  const prompts = [...document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputPrompt')]
    .map(p => p.textContent.trim());
  const indicator = document.querySelector('.jp-Notebook-ExecutionIndicator');
  return prompts.length > 0 && !prompts.some(p => p.includes('*'))
    && prompts.some(p => /\\d/.test(p)) && indicator?.dataset.status === 'idle';
}"""


def _stored_outputs(path: Path) -> tuple[int, int]:
    """(number of code cells, number of PNG outputs) of the stored notebook."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    pngs = sum("image/png" in out.get("data", {}) for c in code for out in c["outputs"])
    return len(code), pngs


def test_jupyterlab_runs_chapter_1_in_a_real_browser(lab, sync_playwright, tmp_path, monkeypatch):
    notebook = ROOT / "notebooks" / NOTEBOOK
    stored_bytes = notebook.read_bytes()
    n_code, n_png = _stored_outputs(notebook)
    # An empty browser folder: Playwright can only use the Chromium given by executable_path.
    no_downloads = tmp_path / "playwright-browsers"
    no_downloads.mkdir()
    monkeypatch.setenv("PLAYWRIGHT_BROWSERS_PATH", str(no_downloads))
    screenshot = ARTIFACTS / NOTEBOOK.replace(".ipynb", ".png")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path=str(CHROMIUM), headless=True,
            args=CHROMIUM_ARGS, viewport={"width": 1280, "height": 900})
        page = context.pages[0] if context.pages else context.new_page()
        try:
            page.set_default_timeout(PAGE_TIMEOUT_MS)
            page_errors: list[str] = []
            page.on("pageerror", lambda error: page_errors.append(str(error)))

            page.goto(f"{lab.url}/lab/tree/{NOTEBOOK}?token={lab.token}")
            # The status bar reads "Python 3 (ipykernel) | Idle" once the kernel is up; a Run
            # clicked while it is still starting does nothing.
            page.locator(".jp-StatusBar-TextItem", has_text=re.compile(r"\|\s*Idle$")).wait_for()
            _click_menu(page, "Edit", "Clear Outputs of All Cells")
            page.wait_for_function("() => ![...document.querySelectorAll("
                                   "'.jp-Notebook .jp-CodeCell .jp-InputPrompt')]"
                                   ".some(p => /\\d/.test(p.textContent))")
            assert page.locator(".jp-Notebook .jp-OutputArea-output").count() == 0

            start = time.perf_counter()
            _click_menu(page, "Run", "Run All Cells")
            page.wait_for_function(RUN_FINISHED_JS, timeout=RUN_ALL_TIMEOUT_MS, polling=250)
            seconds = time.perf_counter() - start

            prompts = _prompts(page)
            stderr = page.locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')
            stderr_texts = stderr.all_text_contents()
            stdout = "\n".join(page.locator(
                '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stdout"]').all_text_contents())
            n_images = page.locator('.jp-OutputArea-output[data-mime-type="image/png"] img').count()
            shown = page.locator(".jp-OutputArea-output", has_text=EXPECTED_LINES[0])
            if shown.count():
                shown.first.scroll_into_view_if_needed()
        finally:
            page.screenshot(path=str(screenshot))
            context.close()
    print(f"\n{NOTEBOOK}: Run All took {seconds:.1f} s in the browser; screenshot {screenshot}")

    assert not stderr_texts, (
        f"{len(stderr_texts)} cell(s) show stderr (tracebacks or warnings); the first:\n"
        + stderr_texts[0][:2000])
    assert prompts == [f"[{i}]:" for i in range(1, n_code + 1)], (
        f"expected {n_code} cells run once each in order, prompts were {prompts}")
    for line in EXPECTED_LINES:
        assert line in stdout, f"{line!r} not among the printed outputs"
    assert n_images == n_png, f"{n_images} figures drawn, the stored notebook has {n_png}"
    assert not page_errors, f"JavaScript errors in the page: {page_errors}"
    assert notebook.read_bytes() == stored_bytes, f"the test modified {notebook}"
    assert not any(no_downloads.iterdir()), "Playwright downloaded a browser"
