"""pyproject.toml, requirements.lock, environment.yml and binder/ cannot drift apart.

The single source of truth is pyproject.toml's dependency list (ranges). requirements.lock
holds the exact versions made from it (`make lock`); environment.yml, binder/ and the
Makefile install from the lock and name no package of their own.
"""

from __future__ import annotations

import re
import sys
from importlib import metadata
from pathlib import Path

import pytest
import yaml
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: tomllib is new in 3.11; pytest itself pulls in tomli there
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements.lock"
BINDER_ENV = {  # what Binder and CI run on: Linux x86_64, Python 3.11
    **default_environment(), "sys_platform": "linux", "platform_machine": "x86_64",
    "platform_system": "Linux", "python_version": "3.11", "python_full_version": "3.11.7",
    "implementation_name": "cpython",
}
OTHER_PLATFORMS = [
    {**BINDER_ENV, "sys_platform": "darwin", "platform_machine": "arm64", "platform_system": "Darwin"},
    {**BINDER_ENV, "sys_platform": "win32", "platform_machine": "AMD64", "platform_system": "Windows"},
    {**BINDER_ENV, "python_version": "3.13", "python_full_version": "3.13.1"},
]


def _pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _declared() -> list[Requirement]:
    project = _pyproject()["project"]
    reqs = project["dependencies"] + project["optional-dependencies"]["test"]
    return [Requirement(r) for r in reqs]


def _lock() -> list[Requirement]:
    reqs = []
    for line in LOCK.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            reqs.append(Requirement(line))
    return reqs


def _pinned(env) -> dict[str, Version]:
    """name -> exact version the lock installs on platform `env`."""
    out = {}
    for r in _lock():
        if r.marker is None or r.marker.evaluate(env):
            name = canonicalize_name(r.name)
            assert name not in out, f"requirements.lock pins {name} twice for {env['sys_platform']}"
            out[name] = Version(next(iter(r.specifier)).version)
    return out


def test_lock_pins_exact_versions_only():
    for r in _lock():
        specs = list(r.specifier)
        assert len(specs) == 1 and specs[0].operator == "==", f"not an exact pin in requirements.lock: {r}"


@pytest.mark.parametrize("env", [BINDER_ENV, *OTHER_PLATFORMS],
                         ids=["linux-x86_64-py3.11", "macos-arm64", "windows", "py3.13"])
def test_every_declared_dependency_is_locked_within_its_range(env):
    pinned = _pinned(env)
    for req in _declared():
        if req.marker is not None and not req.marker.evaluate(env):
            continue
        name = canonicalize_name(req.name)
        assert name in pinned, f"{req} is in pyproject.toml but not in requirements.lock: run `make lock`"
        assert req.specifier.contains(pinned[name], prereleases=True), (
            f"requirements.lock pins {name}=={pinned[name]} outside pyproject.toml's range {req}: run `make lock`")


def test_tensorflow_cpu_on_linux_x86_64_and_tensorflow_elsewhere():
    assert "tensorflow-cpu" in _pinned(BINDER_ENV) and "tensorflow" not in _pinned(BINDER_ENV)
    mac = _pinned(OTHER_PLATFORMS[0])
    assert "tensorflow" in mac and "tensorflow-cpu" not in mac


def _env_file(path: Path):
    doc = yaml.safe_load(path.read_text())
    deps = doc["dependencies"]
    conda = [d for d in deps if isinstance(d, str)]
    pip = next((d["pip"] for d in deps if isinstance(d, dict) and "pip" in d), [])
    return conda, pip


@pytest.mark.parametrize("path, own_package", [("environment.yml", True), ("binder/environment.yml", False)])
def test_environment_files_take_everything_from_the_lock(path, own_package):
    conda, pip = _env_file(ROOT / path)
    assert sorted(conda) == ["pip", "python=3.11"], f"{path} may name only python=3.11 and pip, got {conda}"
    folder = (ROOT / path).parent
    requirement_files = [folder / line.split(None, 1)[1] for line in pip if line.startswith("-r ")]
    assert [p.resolve() for p in requirement_files] == [LOCK], f"{path} must install -r the lock, got {pip}"
    others = [line for line in pip if not line.startswith("-r ")]
    assert others == (["-e ."] if own_package else []), f"{path} lists packages outside the lock: {others}"


def test_binder_pins_python_311_and_installs_helpers():
    assert not (ROOT / ".binder").exists(), "binder/ and .binder/ together is an error for repo2docker"
    post = (ROOT / "binder" / "postBuild").read_text()
    assert post.startswith("#!") and "set -euo pipefail" in post
    assert re.search(r"pip install --no-deps .*-e \.", post)
    assert (ROOT / "binder" / "postBuild").stat().st_mode & 0o111, "postBuild must be executable"
    python = Version("3.11")
    assert _pyproject()["project"]["requires-python"] and \
        __import__("packaging.specifiers").specifiers.SpecifierSet(
            _pyproject()["project"]["requires-python"]).contains(python)


def test_makefile_installs_from_the_lock_and_the_project():
    make = (ROOT / "Makefile").read_text()
    assert "pip install --quiet -r requirements.lock" in make
    assert "--no-deps --no-build-isolation -e ." in make


def test_this_environment_was_installed_from_the_lock():
    """The tests run against exactly the locked versions (make test installs them)."""
    env = {**default_environment()}
    wrong = []
    for name, version in _pinned(env).items():
        try:
            installed = Version(metadata.version(name))
        except metadata.PackageNotFoundError:
            wrong.append(f"{name} not installed")
            continue
        if installed != version:
            wrong.append(f"{name} {installed} (lock: {version})")
    assert not wrong, "installed packages differ from requirements.lock: " + ", ".join(wrong)


def test_distribution_is_dl4health_with_package_helpers():
    project = _pyproject()
    assert project["project"]["name"] == "dl4health"
    assert project["tool"]["setuptools"]["packages"] == ["helpers"]
    assert sys.version_info >= (3, 10)
