"""Execute notebooks top to bottom in a fresh kernel and store their outputs in place.

    python tools/execute_notebooks.py notebooks/*.ipynb      (or: make execute)

The stored outputs are what nbval compares against, so this runs each notebook in the same
environment as the tests (tools/notebook_env.py), from the notebooks/ folder, with the
kernel of the interpreter running this script. Execution counts come out 1..n. After
writing, it runs the shared notebook checker when it is there.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

sys.path.insert(0, str(Path(__file__).parent))
from notebook_env import apply_kernel_environment  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
# Metadata that changes from run to run and means nothing to a reader or to nbval.
VOLATILE_CELL_METADATA = ("execution", "collapsed", "scrolled")


def coalesce_streams(outputs: list) -> list:
    """Merge consecutive stdout (or stderr) outputs into one: how a print is split into
    chunks depends on timing, and nbval compares the joined text anyway."""
    merged = []
    for out in outputs:
        if (out.get("output_type") == "stream" and merged and merged[-1].get("output_type") == "stream"
                and merged[-1]["name"] == out["name"]):
            merged[-1]["text"] += out["text"]
        else:
            merged.append(out)
    return merged


def execute(path: Path, timeout: int) -> float:
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    seconds = time.perf_counter() - start
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = coalesce_streams(cell.outputs)
        for key in VOLATILE_CELL_METADATA:
            cell.metadata.pop(key, None)
    nb.metadata.pop("widgets", None)
    nbformat.validate(nb)
    nbformat.write(nb, path)
    return seconds


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--timeout", type=int, default=300, help="seconds per cell")
    args = parser.parse_args(argv)
    apply_kernel_environment()
    for path in args.notebooks:
        print(f"{path}: {execute(path, args.timeout):.1f} s", flush=True)
    checker = ROOT.parent / "shared" / "tools" / "check_notebooks.py"
    if checker.exists():
        return subprocess.call([sys.executable, str(checker), str(ROOT / "notebooks")])
    return 0


if __name__ == "__main__":
    sys.exit(main())
