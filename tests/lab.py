"""A real JupyterLab on 127.0.0.1 and Debian's chromium driven by Playwright, for browser tests.

The browser is the system's (``/usr/bin/chromium``, installed by ``make test`` from Debian's
packages); Playwright only drives it and never downloads one. JupyterLab runs with its own
configuration, data and runtime folders under the test's temporary folder, so nothing of the
person's own Jupyter set-up (extensions, settings, news pop-ups) changes what the test sees.
nbtune's own JupyterLab extension (``nbtune-apply``) is loaded from this checkout's
``nbtune/labextension`` when a test asks for it, and disabled otherwise, whether or not it is
installed in the environment.
"""
from __future__ import annotations

import http.client
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

CHROMIUM = os.environ.get("NBTUNE_CHROMIUM", "/usr/bin/chromium")
# Headless, and nothing that reaches for the network: this machine's network is closed, and
# chromium's background connections would otherwise fail, many at a time, at every start.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-dev-shm-usage"]
ARTIFACTS = Path(os.environ.get("NBTUNE_ARTIFACTS",
                                Path(__file__).resolve().parent.parent / "test-artifacts"))
LABEXTENSION = Path(__file__).resolve().parent.parent / "nbtune" / "labextension"
KERNEL = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}


def chromium_missing() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        return f"no chromium at {CHROMIUM} (`make test` installs Debian's package)"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[test]')"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class JupyterLab:
    """A JupyterLab server serving ``root``, started in its own process group."""

    def __init__(self, root: Path, extension: bool = False, theme: str | None = None) -> None:
        self.root = Path(root)
        self.extension = extension  # whether nbtune's JupyterLab extension is loaded
        self.theme = theme  # "JupyterLab Dark", say; None: JupyterLab's default (light)
        self.port = _free_port()
        self.token = secrets.token_hex(16)
        self.log_path = self.root.parent / "jupyterlab.log"
        self.proc: subprocess.Popen | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, notebook: str) -> str:
        """The address that opens ``notebook`` (relative to the root) in JupyterLab, in a
        fresh workspace of its own (no tabs restored from an earlier test)."""
        workspace = Path(notebook).stem
        return f"{self.base}/lab/workspaces/{workspace}/tree/{notebook}?reset&token={self.token}"

    def start(self, timeout: float = 60.0) -> JupyterLab:
        home = self.root.parent
        config, data = home / "jupyter-config", home / "jupyter-data"
        (config / "labconfig").mkdir(parents=True, exist_ok=True)
        # the "get notified about Jupyter news?" toast would cover the bottom of the page
        disabled = {"@jupyterlab/apputils-extension:announcements": True}
        if self.extension:  # the data folder comes first on JupyterLab's extension path
            shutil.copytree(LABEXTENSION, data / "labextensions" / "nbtune-apply",
                            dirs_exist_ok=True)
        else:
            disabled["nbtune-apply"] = True
        (config / "labconfig" / "page_config.json").write_text(json.dumps(
            {"disabledExtensions": disabled}))
        if self.theme is not None:  # as Settings > Theme keeps it
            themes = config / "lab" / "user-settings" / "@jupyterlab" / "apputils-extension"
            themes.mkdir(parents=True, exist_ok=True)
            (themes / "themes.jupyterlab-settings").write_text(json.dumps(
                {"theme": self.theme}))
        env = dict(os.environ, JUPYTER_CONFIG_DIR=str(config),
                   JUPYTER_DATA_DIR=str(data),
                   JUPYTER_RUNTIME_DIR=str(home / "jupyter-runtime"),
                   JUPYTER_PLATFORM_DIRS="1")
        for _ in range(3):  # the port, free when chosen, may be another process's by now
            if self._launch(env, timeout):
                return self
            self.port = _free_port()
        raise RuntimeError("JupyterLab found no free port:\n" + self.log())

    def _launch(self, env: dict[str, str], timeout: float) -> bool:
        """Start the server on ``self.port``; False where another process holds that port (a
        Dask worker of a test running beside this one answered the status request once)."""
        cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1",
               f"--port={self.port}", "--ServerApp.port_retries=0",  # not another port
               f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={self.root}",
               "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.append("--allow-root")
        self.proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL,
                                     stdout=open(self.log_path, "w"), stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + timeout
        while True:
            try:
                urllib.request.urlopen(f"{self.base}/api/status?token={self.token}", timeout=2)
                return True
            except http.client.HTTPException:  # not an HTTP server: not this one
                self.stop()
                return False
            except OSError:
                if self.proc.poll() is not None and "already in use" in self.log():
                    self.proc = None
                    return False
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("JupyterLab did not start:\n" + self.log())
                time.sleep(0.2)

    def _api(self, path: str, method: str = "GET") -> bytes:
        request = urllib.request.Request(f"{self.base}/api/{path}", method=method,
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.read()

    def shutdown_kernels(self) -> None:
        """Shut down every kernel the server runs (and so the clusters the notebooks started)."""
        for kernel in json.loads(self._api("kernels")):
            self._api(f"kernels/{kernel['id']}", method="DELETE")

    def log(self) -> str:
        """What the server printed so far."""
        try:
            return self.log_path.read_text()[-4000:]
        except OSError:
            return ""

    def stop(self) -> None:
        """Stop the server, its kernels and whatever they started (the whole process group)."""
        if self.proc is None:
            return
        pgid = self.proc.pid
        if self.proc.poll() is None:
            # SIGTERM: the server shuts its kernels down and exits. SIGINT, twice, did too, but
            # a server started from a shell's background job (nohup make test &) inherits SIGINT
            # ignored, and each server then waited out the 20 s below
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        try:
            os.killpg(pgid, signal.SIGKILL)  # anything its kernels left behind
        except ProcessLookupError:
            pass
        self.proc = None


def launch_browser(playwright):
    """Debian's chromium, headless, through Playwright."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def open_notebook(page, lab: JupyterLab, notebook: str, timeout: float = 120.0) -> None:
    """Open ``notebook`` and wait until its cells show and its kernel is idle. On a loaded
    2-core machine a kernel once took more than 60 s to start (CI); a kernel that does not
    start fails with what the status bar and the server said."""
    page.goto(lab.url(notebook))
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=timeout * 1000)
    idle = page.get_by_text(f"{KERNEL['display_name']} | Idle")
    try:
        idle.wait_for(timeout=timeout * 1000)
    except Exception as e:
        status = page.locator(".jp-StatusBar-Widget").all_inner_texts()
        shot = screenshot(page, f"kernel-not-idle-{Path(notebook).stem}.png")
        raise AssertionError(f"the kernel of {notebook} was not idle after {timeout:.0f} s; "
                             f"status bar {status}; screenshot {shot}; server log:\n"
                             f"{lab.log()}") from e
    page.locator(".jp-Notebook .jp-Cell").first.click()  # the notebook has the focus


def run_all_cells(page) -> None:
    """Run > Run All Cells, through the menu as a person would."""
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_text("Run All Cells", exact=True).click()


def screenshot(page, name: str) -> Path:
    """Save a full-page screenshot under the artifacts folder; return its path."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=True)
    return path
