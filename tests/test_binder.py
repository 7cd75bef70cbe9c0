"""Binder: what repo2docker would build from this repository, checked without Docker or network.

``jupyter-repo2docker --no-build --debug .`` reads the repository's configuration the way
mybinder.org does, and prints the Dockerfile it would build (stdout) and its decisions (stderr)
without a Docker daemon. It runs here with the network out of reach: HTTP(S) proxies that point
at a closed port, and, where the kernel allows it, inside ``unshare -rn`` (a network namespace
with no interface but a down loopback). pytest-socket does not reach into a subprocess, so this
is what proves the check needs no network.

The agreement of binder/environment.yml with pyproject.toml and requirements.lock is tested
in tests/test_packaging.py; this file checks that repo2docker really *uses* those files.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DEAD_PROXY = "http://127.0.0.1:9"   # the discard port: nothing listens, a connection is refused


def _repo2docker() -> str | None:
    """The jupyter-repo2docker next to the running interpreter (the venv's), else on PATH."""
    here = Path(sys.executable).parent / "jupyter-repo2docker"   # not resolved: keep the venv's bin
    return str(here) if here.exists() else shutil.which("jupyter-repo2docker")


def _no_network_prefix() -> list[str]:
    """``unshare -rn`` where an unprivileged network namespace is allowed, else nothing."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return []
    try:
        ok = subprocess.run([unshare, "-rn", "true"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.SubprocessError):
        ok = False
    return [unshare, "-rn"] if ok else []


@pytest.fixture(scope="module")
def repo2docker():
    """(Dockerfile printed on stdout, log on stderr) of ``jupyter-repo2docker --no-build --debug .``."""
    exe = _repo2docker()
    if exe is None:
        pytest.skip("jupyter-repo2docker is not installed (it comes with the test extra: pip install -e '.[test]')")
    env = {**os.environ, "NO_PROXY": "", "no_proxy": ""}
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        env[var] = DEAD_PROXY
    cmd = [*_no_network_prefix(), exe, "--no-build", "--debug", "."]
    try:
        run = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)
    except subprocess.TimeoutExpired as err:
        pytest.fail(f"{' '.join(cmd)} did not finish in 180 s (is it waiting for the network?): {err}")
    assert run.returncode == 0, f"{' '.join(cmd)} failed ({run.returncode}):\n{run.stderr}\n{run.stdout[-3000:]}"
    assert "FROM " in run.stdout, f"no Dockerfile printed:\n{run.stdout[:2000]}"
    return run.stdout, run.stderr


def test_only_binder_folder_is_read_and_nothing_conflicts(repo2docker):
    dockerfile, log = repo2docker
    assert (ROOT / "binder").is_dir()
    assert not (ROOT / ".binder").exists(), "binder/ and .binder/ together is an error for repo2docker"
    # binder/ wins over the root: the root environment.yml (for conda users) must not be the one used
    envs = re.findall(r'--file "([^"]+)"', dockerfile)
    assert envs == ["binder/environment.yml"], f"repo2docker installs from {envs}, expected binder/environment.yml"


def test_python_is_3_11(repo2docker):
    dockerfile, log = repo2docker
    assert "Building conda environment for python=3.11" in log, log
    # the base environment repo2docker copies in is its lock file for Python 3.11
    assert re.search(r"environment-2epy-2d3-2e11-2dlinux-2d64-2elock|environment\.py-3\.11-linux-64\.lock",
                     dockerfile), "the base conda environment is not the Python 3.11 one"
    assert not re.search(r"py-3\.1[02-9]|py-2d3-2e1[02-9]", dockerfile), "a second Python version appears"


def test_environment_comes_from_the_lock_only():
    """binder/environment.yml: python=3.11 and pip from conda, every package from ../requirements.lock."""
    doc = yaml.safe_load((ROOT / "binder" / "environment.yml").read_text())
    conda = [d for d in doc["dependencies"] if isinstance(d, str)]
    pip = [d["pip"] for d in doc["dependencies"] if isinstance(d, dict)]
    assert sorted(conda) == ["pip", "python=3.11"]
    assert pip == [["-r ../requirements.lock"]], f"the pip section must be exactly -r ../requirements.lock, got {pip}"
    assert (ROOT / "binder" / "../requirements.lock").resolve() == ROOT / "requirements.lock"


def test_postbuild_runs_after_the_environment_and_installs_helpers(repo2docker):
    dockerfile, _ = repo2docker
    env_step = dockerfile.find('--file "binder/environment.yml"')
    post_step = dockerfile.find("RUN ./binder/postBuild")
    assert post_step != -1, "repo2docker does not run binder/postBuild"
    assert 0 <= env_step < post_step, "postBuild must run after the environment is installed"
    post = (ROOT / "binder" / "postBuild").read_text()
    assert post.startswith("#!/bin/bash") and "set -euo pipefail" in post
    commands = [line for line in post.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    installs = [c for c in commands if re.search(r"pip install\b", c)]
    assert len(installs) == 1 and re.search(r"pip install (--\S+ )*--no-deps (--\S+ )*-e \.$", installs[0]), (
        f"postBuild must install helpers without touching the locked dependencies, got {installs}")
