"""Student copies of the notebooks: every solution replaced by a stub, everything else kept.

    python -m helpers.student [--out build/student] [notebooks ...]     (or: make student)

The course notebooks hold their exercise solutions between two marker lines, the convention
of nbgrader::

    def my_dense_backward(dz, x, W):
        ### BEGIN SOLUTION
        dx = dz @ W.T
        ...
        ### END SOLUTION

A student copy replaces each such block, at the indentation of its markers, by::

        # YOUR CODE HERE
        raise NotImplementedError()

and clears the outputs and execution count of the cells it changed (their outputs would
show the solution's results). Every other cell keeps its source, outputs and metadata, so a
student still sees the figures of the worked sections. The check cell after an exercise
catches the ``NotImplementedError`` and prints "not implemented yet" instead of crashing.

Markdown cells may hold written answers between the same markers (nbgrader's convention for
text answers); they become ``YOUR ANSWER HERE``. Marker lines inside a fenced code block of a
markdown cell are examples, not answers, and are left alone.

A marker line is a line holding only the marker (surrounding spaces allowed). Unbalanced or
nested markers, an END marker at another indentation than its BEGIN, or a comment that looks
like a marker but is not exactly ``### BEGIN SOLUTION`` / ``### END SOLUTION`` (it would leak
its solution silently) raise ``ValueError`` naming the notebook and the cell index.
"""

from __future__ import annotations

import argparse
import copy
import re
import sys
from pathlib import Path

import nbformat

__all__ = ["BEGIN", "END", "CODE_STUB", "TEXT_STUB", "strip_solutions", "count_solutions",
           "make_student_copy", "write_student_copies", "main"]

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
CODE_STUB = ("# YOUR CODE HERE", "raise NotImplementedError()")
TEXT_STUB = ("YOUR ANSWER HERE",)

# A comment line that names a solution marker: "#### BEGIN SOLUTION", "# END SOLUTION" ...
# Anything of that shape that is not exactly BEGIN or END is a typo that would leak a solution.
_MARKER_LIKE = re.compile(r"#+\s*(BEGIN|END)\s+SOLUTION\b")
_FENCE = re.compile(r"(```|~~~)")
_CHECK_CALL = re.compile(r"\bcheck_\w+\(")  # a cell that calls an exercise check
# The git ref of a Binder link: https://mybinder.org/v2/gh/OWNER/REPO/<REF>?urlpath=...
_BINDER_REF = re.compile(r"(https://mybinder\.org/v2/gh/[^/\s()]+/[^/\s()]+/)[^?\s()]+")


def _regions(lines: list[str], *, skip_fences: bool) -> list[tuple[int, int, str]]:
    """[(index of BEGIN line, index of END line, indentation)] of the solution blocks in lines.

    Raises ValueError (with 1-based line numbers) for unbalanced, nested, misindented or
    malformed markers.
    """
    regions, open_at, indent, in_fence = [], None, "", False
    for i, line in enumerate(lines):
        stripped = line.strip()
        if skip_fences and _FENCE.match(stripped):
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        if stripped == BEGIN:
            if open_at is not None:
                raise ValueError(f"nested '{BEGIN}' on line {i + 1}: the block opened on line "
                                 f"{open_at + 1} has no '{END}' before it")
            open_at, indent = i, line[:len(line) - len(line.lstrip())]
        elif stripped == END:
            if open_at is None:
                raise ValueError(f"'{END}' on line {i + 1} has no '{BEGIN}' before it")
            end_indent = line[:len(line) - len(line.lstrip())]
            if end_indent != indent:
                raise ValueError(f"'{END}' on line {i + 1} is indented {len(end_indent)} characters, "
                                 f"its '{BEGIN}' on line {open_at + 1} {len(indent)}: markers of one "
                                 "block must line up")
            regions.append((open_at, i, indent))
            open_at = None
        elif _MARKER_LIKE.fullmatch(stripped):
            raise ValueError(f"line {i + 1} looks like a solution marker but is {stripped!r}: write "
                             f"exactly '{BEGIN}' or '{END}', or the solution is not removed")
    if open_at is not None:
        raise ValueError(f"'{BEGIN}' on line {open_at + 1} has no '{END}' after it")
    return regions


def _lines(source: str) -> list[str]:
    # Notebook sources use "\n"; a cell pasted from Windows may carry "\r\n".
    return source.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def count_solutions(source: str, *, markdown: bool = False) -> int:
    """How many solution blocks ``source`` holds (ValueError for malformed markers)."""
    return len(_regions(_lines(source), skip_fences=markdown))


def strip_solutions(source: str, *, markdown: bool = False) -> str:
    """``source`` with every solution block replaced by the stub, at the block's indentation.

    source: a cell's text. For code (default) each block becomes ``# YOUR CODE HERE`` and
        ``raise NotImplementedError()``; with ``markdown=True`` it becomes ``YOUR ANSWER HERE``
        and marker lines inside fenced code blocks are left alone.
    A source without markers comes back unchanged; otherwise the result's line endings are "\\n".
    Raises ValueError for unbalanced, nested, misindented or malformed markers.
    """
    if BEGIN not in source and END not in source and not _MARKER_LIKE.search(source):
        return source  # the common case: nothing to do, not even line-ending changes
    lines = _lines(source)
    stub = TEXT_STUB if markdown else CODE_STUB
    out, start = [], 0
    for begin, end, indent in _regions(lines, skip_fences=markdown):
        out.extend(lines[start:begin])
        out.extend(indent + s for s in stub)
        start = end + 1
    out.extend(lines[start:])
    return "\n".join(out)


def make_student_copy(nb, name: str = "notebook", binder_ref: str | None = None):
    """A student copy of the notebook ``nb`` (an nbformat NotebookNode; ``nb`` is not changed).

    Code and markdown cells with solution blocks get the stub (see :func:`strip_solutions`);
    code cells that changed, and the cells that call a ``helpers.exercises`` check
    (``check_...(``), lose their outputs and execution count. Every other cell, and
    the notebook's metadata, are kept as they are.
    name: used in error messages, e.g. the notebook's path.
    binder_ref: if given, the git branch or tag that the Binder links in markdown cells open
        instead of theirs (``HEAD`` of the course, which has the solutions), e.g. ``"student"``
        for copies published on a ``student`` branch.
    Raises ValueError naming the notebook and the cell index for malformed markers.
    """
    if not hasattr(nb, "cells"):
        raise ValueError(f"make_student_copy: expected an nbformat notebook, got {type(nb).__name__}")
    if binder_ref is not None and not re.fullmatch(r"[\w./-]+", binder_ref):
        raise ValueError(f"make_student_copy: binder_ref must be a git branch or tag name, got {binder_ref!r}")
    student = copy.deepcopy(nb)
    for index, cell in enumerate(student.cells):
        if cell.cell_type not in ("code", "markdown"):
            continue  # raw cells are passed through
        if binder_ref is not None and cell.cell_type == "markdown":
            cell.source = _BINDER_REF.sub(lambda m: m.group(1) + binder_ref, cell.source)
        try:
            new = strip_solutions(cell.source, markdown=cell.cell_type == "markdown")
        except ValueError as err:
            raise ValueError(f"{name}, cell {index} ({cell.cell_type}): {err}") from None
        if new == cell.source:
            if cell.cell_type == "code" and _CHECK_CALL.search(cell.source):
                # A check cell's stored verdict ("✔ ... correct") belongs to the solution, not to
                # the student, who has not answered yet: clear it.
                cell.outputs = []
                cell.execution_count = None
            continue
        cell.source = new
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    return student


def _solution_blocks(nb, name: str) -> int:
    total = 0
    for index, cell in enumerate(nb.cells):
        if cell.cell_type in ("code", "markdown"):
            try:
                total += count_solutions(cell.source, markdown=cell.cell_type == "markdown")
            except ValueError as err:
                raise ValueError(f"{name}, cell {index} ({cell.cell_type}): {err}") from None
    return total


def write_student_copies(paths, out: str | Path, binder_ref: str | None = None) -> list[tuple[Path, Path, int]]:
    """Write the student copy of each notebook in ``paths`` into the folder ``out``.

    binder_ref: see :func:`make_student_copy`.
    Returns [(source, copy, number of solution blocks replaced)]. Every notebook is read and
    converted before anything is written, so a malformed one leaves ``out`` untouched.
    Raises ValueError if ``out`` is a folder the notebooks come from (the solutions would be
    overwritten) or for malformed markers.
    """
    out = Path(out)
    paths = [Path(p) for p in paths]
    for p in paths:
        if p.resolve().parent == out.resolve():
            raise ValueError(f"--out {out} is the folder of {p}: the student copy would overwrite "
                             "the solutions; choose another folder (e.g. build/student)")
    copies = []
    for p in paths:
        nb = nbformat.read(p, as_version=4)
        blocks = _solution_blocks(nb, str(p))
        student = make_student_copy(nb, str(p), binder_ref)
        nbformat.validate(student)
        copies.append((p, out / p.name, blocks, student))
    out.mkdir(parents=True, exist_ok=True)
    for _, target, _, student in copies:
        nbformat.write(student, target)
    return [(p, target, blocks) for p, target, blocks, _ in copies]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.student",
                                     description="Write student copies of the notebooks: solutions "
                                                 "between '### BEGIN SOLUTION' and '### END SOLUTION' "
                                                 "replaced by a stub.")
    parser.add_argument("notebooks", nargs="*", type=Path,
                        help="notebooks to convert (default: notebooks/*.ipynb)")
    parser.add_argument("--out", type=Path, default=Path("build/student"),
                        help="folder for the copies (default: build/student)")
    parser.add_argument("--binder-ref", metavar="REF",
                        help="make the copies' Binder links open this branch or tag (e.g. student) "
                             "instead of the course's HEAD, which has the solutions")
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted(Path("notebooks").glob("*.ipynb"))
    if not paths:
        parser.error("no notebooks given and none in notebooks/ (run from the repository root)")
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        parser.error(f"no such notebook: {', '.join(missing)}")
    try:
        written = write_student_copies(paths, args.out, args.binder_ref)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    for source, target, blocks in written:
        print(f"{source} -> {target}: {blocks} solution block{'s' if blocks != 1 else ''} replaced")
    return 0


if __name__ == "__main__":
    sys.exit(main())
