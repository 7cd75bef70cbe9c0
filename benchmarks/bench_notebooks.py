"""How long does each notebook take, and how much memory does its kernel need?

Run from the repository root (with DL4HEALTH_DATA_DIR pointing at the dataset copies)::

    .venv/bin/python benchmarks/bench_notebooks.py                  # every notebooks/*.ipynb
    .venv/bin/python benchmarks/bench_notebooks.py --threads 2      # as `make notebooks` runs them
    .venv/bin/python benchmarks/bench_notebooks.py notebooks/06_rnn_bptt.ipynb --output /tmp/r.md

Each notebook runs top to bottom with nbclient in a fresh kernel, from notebooks/, in the
environment that stores and checks outputs (tools/notebook_env.py), exactly as
tools/execute_notebooks.py runs it, but nothing is written back into the notebook.

Measured per notebook:

* wall time of the whole execution, kernel start and shutdown included (what a student waits
  for after "Restart Kernel and Run All", and what `make test` spends);
* the kernel's peak resident memory: VmHWM from /proc/<pid>/status, the kernel's true high-water
  mark, read after every cell (it only grows), and, as a cross-check that also counts any child
  process, the kernel's RSS plus its children's sampled every --interval seconds by a thread.
  The larger of the two is the peak.

Budgets (issue 7): the whole course under 600 s on 2 CPU cores (CI's 15 minutes hold the set-up,
the unit tests and the notebooks twice), and each kernel under 1.5 GiB (mybinder.org guarantees
1 GB and restarts a kernel above 2 GB). The script exits 1 if a budget is missed or a notebook
fails. Timings depend on the machine and on its other load: run it on an otherwise idle machine.
The table is written to benchmarks/results.md with the date, machine, versions and thread settings.

--threads N sets OMP_NUM_THREADS, OPENBLAS_NUM_THREADS, TF_NUM_INTRAOP_THREADS and
TF_NUM_INTEROP_THREADS for the kernels, as the Makefile's notebooks targets do.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
import threading
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import nbformat
import psutil
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
from notebook_env import apply_kernel_environment  # noqa: E402

MIB = 1024**2
COURSE_BUDGET_S = 600.0
KERNEL_BUDGET_MIB = 1.5 * 1024
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "TF_NUM_INTRAOP_THREADS",
                    "TF_NUM_INTEROP_THREADS")


class TreeRSSSampler:
    """Samples, in a thread, the resident memory of a process plus all its descendants and
    keeps the largest sum seen. A sampler can miss a short spike; VmHWM cannot."""

    def __init__(self, pid: int, interval: float = 0.1):
        self.process = psutil.Process(pid)
        self.interval = interval
        self.peak_bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> int:
        total = 0
        for proc in [self.process, *self.process.children(recursive=True)]:
            try:
                total += proc.memory_info().rss
            except psutil.Error:  # a child that just exited
                pass
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.peak_bytes = max(self.peak_bytes, self._sample())
            except psutil.Error:  # the kernel itself is gone
                return
            self._stop.wait(self.interval)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak_bytes


def vm_hwm_bytes(pid: int) -> int | None:
    """The process' peak resident set size (VmHWM) from /proc, or None where there is none."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024  # the kernel reports kB
    except OSError:
        pass
    return None


@dataclass
class Result:
    name: str
    seconds: float
    vm_hwm_mib: float | None
    sampled_mib: float
    error: str | None = None

    @property
    def peak_mib(self) -> float:
        return max(self.vm_hwm_mib or 0.0, self.sampled_mib)


def run_notebook(path: Path, timeout: int, interval: float) -> Result:
    """Execute ``path`` in a fresh kernel and measure it; the file is left untouched."""
    nb = nbformat.read(path, as_version=4)
    state: dict = {"hwm": None}

    def on_start(notebook):  # the kernel is up: watch it
        state["pid"] = client.km.provisioner.pid
        state["sampler"] = TreeRSSSampler(state["pid"], interval)
        state["sampler"].start()

    def on_cell_executed(cell, cell_index, execute_reply):  # VmHWM only grows: keep the last
        state["hwm"] = vm_hwm_bytes(state["pid"]) or state["hwm"]

    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}},
                            on_notebook_start=on_start, on_cell_executed=on_cell_executed)
    error = None
    start = time.perf_counter()
    try:
        client.execute()
    except CellExecutionError as exc:
        error = str(exc).strip().splitlines()[-1][:200]
    seconds = time.perf_counter() - start
    sampled = state["sampler"].stop() if "sampler" in state else 0
    hwm = state["hwm"] / MIB if state["hwm"] else None
    return Result(path.stem, seconds, hwm, sampled / MIB, error)


def thread_settings() -> str:
    set_ = [f"{name}={os.environ[name]}" for name in THREAD_VARIABLES if name in os.environ]
    return ", ".join(set_) or f"library defaults (none of {', '.join(THREAD_VARIABLES)} set)"


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def version(*distributions: str) -> str:
    for name in distributions:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return "not installed"


def machine_lines() -> list[str]:
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return [
        f"- date: {dt.datetime.now(dt.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- machine: {cpu_model()}, {os.cpu_count()} CPUs ({usable} usable by this process), "
        f"{psutil.virtual_memory().total / 1024**3:.1f} GiB RAM, {platform.system()} {platform.release()}",
        f"- Python {platform.python_version()}, TensorFlow {version('tensorflow-cpu', 'tensorflow')}, "
        f"Keras {version('keras')}, NumPy {version('numpy')}, ipykernel {version('ipykernel')}",
        f"- threads: {thread_settings()}",
    ]


def table(results: list[Result]) -> list[str]:
    lines = ["| notebook | wall s | peak RSS MiB | VmHWM MiB | sampled MiB | result |",
             "|---|---:|---:|---:|---:|---|"]
    for r in results:
        hwm = f"{r.vm_hwm_mib:.0f}" if r.vm_hwm_mib is not None else "n/a"
        verdict = f"FAILED: {r.error}" if r.error else (
            "over budget" if r.peak_mib > KERNEL_BUDGET_MIB else "ok")
        lines.append(f"| {r.name} | {r.seconds:.1f} | {r.peak_mib:.0f} | {hwm} | {r.sampled_mib:.0f} | {verdict} |")
    total = sum(r.seconds for r in results)
    lines.append(f"| **total ({len(results)} notebooks)** | **{total:.1f}** | | | | |")
    return lines


def budget_problems(results: list[Result]) -> list[str]:
    problems = [f"{r.name} failed: {r.error}" for r in results if r.error]
    problems += [f"{r.name}: peak RSS {r.peak_mib:.0f} MiB > {KERNEL_BUDGET_MIB:.0f} MiB"
                 for r in results if r.peak_mib > KERNEL_BUDGET_MIB]
    total = sum(r.seconds for r in results)
    if total > COURSE_BUDGET_S:
        problems.append(f"total wall time {total:.0f} s > {COURSE_BUDGET_S:.0f} s")
    return problems


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("notebooks", nargs="*", type=Path,
                    help="notebooks to run (default: notebooks/*.ipynb)")
    ap.add_argument("--threads", type=int, help="thread count for NumPy and TensorFlow in the kernels")
    ap.add_argument("--timeout", type=int, default=300, help="seconds per cell")
    ap.add_argument("--interval", type=float, default=0.1, help="seconds between RSS samples")
    ap.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results.md",
                    help="where to write the table (default: benchmarks/results.md)")
    args = ap.parse_args(argv)
    if args.threads is not None:
        if args.threads < 1:
            ap.error(f"--threads must be at least 1, got {args.threads}")
        os.environ.update({name: str(args.threads) for name in THREAD_VARIABLES})
    apply_kernel_environment()
    paths = args.notebooks or sorted((ROOT / "notebooks").glob("*.ipynb"))
    if not paths:
        ap.error("no notebooks found")

    header = machine_lines()
    print("\n".join(header), flush=True)
    load_before = os.getloadavg()
    results = []
    for path in paths:
        result = run_notebook(path.resolve(), args.timeout, args.interval)
        print(f"{result.name}: {result.seconds:.1f} s, peak {result.peak_mib:.0f} MiB"
              + (f"  FAILED: {result.error}" if result.error else ""), flush=True)
        results.append(result)
    load_after = os.getloadavg()

    problems = budget_problems(results)
    report = [
        "# Notebook benchmark", "",
        "Written by `benchmarks/bench_notebooks.py` (see its docstring for the method).", "",
        *header,
        f"- load average (1 min) before / after: {load_before[0]:.2f} / {load_after[0]:.2f}",
        f"- budgets: whole course < {COURSE_BUDGET_S:.0f} s, each kernel < {KERNEL_BUDGET_MIB:.0f} MiB peak RSS",
        "",
        *table(results), "",
        ("**Budgets missed:** " + "; ".join(problems)) if problems else "All budgets met.",
    ]
    print("\n" + "\n".join(table(results)))
    args.output.write_text("\n".join(report) + "\n", encoding="utf-8")
    print(f"\nwritten to {args.output}")
    if problems:
        print("BUDGETS MISSED:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 1
    print("all budgets met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
