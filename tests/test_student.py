"""Student copies (helpers.student): solutions removed, stubs in place, everything else kept.

The solution copies (notebooks/ as committed) are checked by the nbval run (`make notebooks`,
`pytest --nbval notebooks`): every exercise cell runs its solution and its check cell prints
"correct". This file checks the other half: what a student receives.
"""

from __future__ import annotations

import ast
import contextlib
import io
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from helpers import student
from helpers.exercises import NOT_IMPLEMENTED
from helpers.student import BEGIN, END, TEXT_STUB, make_student_copy, strip_solutions

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
STUB = ["# YOUR CODE HERE", "raise NotImplementedError()"]


def _read(path: Path):
    return nbformat.read(path, as_version=4)


def _solution_cells(nb) -> list[int]:
    return [i for i, c in enumerate(nb.cells)
            if c.cell_type == "code" and any(line.strip() == BEGIN for line in c.source.split("\n"))]


# An open exercise answered in code (a sketch a teacher reads, nbgrader's "manually graded
# answer") carries this cell tag: it has no automatic check after it. Every other solution cell
# is followed by its check cell.
MANUAL = "manually-graded"


def _checked_solution_cells(nb) -> list[int]:
    return [i for i in _solution_cells(nb) if MANUAL not in nb.cells[i].metadata.get("tags", [])]


def _split_solution(source: str) -> tuple[list[str], list[str]]:
    """(lines inside solution blocks, lines outside them), marker lines in neither; written
    here independently of helpers.student so the test does not trust what it tests."""
    inside, outside, in_block = [], [], False
    for line in source.split("\n"):
        if line.strip() == BEGIN:
            in_block = True
        elif line.strip() == END:
            in_block = False
        else:
            (inside if in_block else outside).append(line)
    return inside, outside


def _code_lines(nb) -> set[str]:
    return {line.strip() for c in nb.cells if c.cell_type == "code" for line in c.source.split("\n")}


# --------------------------------------------------------------------------------------
# strip_solutions: the text transformation
# --------------------------------------------------------------------------------------

def test_a_block_in_a_function_becomes_the_stub_at_its_indentation():
    source = ("def f(x):\n"
              "    \"\"\"Double x.\"\"\"\n"
              "    ### BEGIN SOLUTION\n"
              "    y = 2 * x\n"
              "    return y\n"
              "    ### END SOLUTION\n"
              "\n"
              "print('after')")
    assert strip_solutions(source) == ("def f(x):\n"
                                       "    \"\"\"Double x.\"\"\"\n"
                                       "    # YOUR CODE HERE\n"
                                       "    raise NotImplementedError()\n"
                                       "\n"
                                       "print('after')")


def test_several_blocks_at_different_indentations_each_get_their_own_stub():
    source = "\n".join([
        "### BEGIN SOLUTION",
        "a = 1",
        "### END SOLUTION",
        "class C:",
        "    def m(self):",
        "        if True:",
        "            ### BEGIN SOLUTION",
        "            return 2",
        "            ### END SOLUTION",
        "\tdef t(self):",
        "\t\t### BEGIN SOLUTION",
        "\t\treturn 3",
        "\t\t### END SOLUTION",
    ])
    out = strip_solutions(source).split("\n")
    assert out == [
        "# YOUR CODE HERE", "raise NotImplementedError()",
        "class C:", "    def m(self):", "        if True:",
        "            # YOUR CODE HERE", "            raise NotImplementedError()",
        "\tdef t(self):",
        "\t\t# YOUR CODE HERE", "\t\traise NotImplementedError()",
    ]
    assert student.count_solutions(source) == 3


def test_the_stripped_cell_is_valid_python_and_raises_not_implemented():
    source = "def f(x):\n    # a comment the student keeps\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION"
    namespace = {}
    exec(compile(strip_solutions(source), "<cell>", "exec"), namespace)
    with pytest.raises(NotImplementedError):
        namespace["f"](1)
    assert "# a comment the student keeps" in strip_solutions(source)


def test_crlf_source_gives_lf_only_output():
    source = "def f():\r\n    ### BEGIN SOLUTION\r\n    return 1\r\n    ### END SOLUTION\r\n"
    out = strip_solutions(source)
    assert "\r" not in out
    assert out == "def f():\n    # YOUR CODE HERE\n    raise NotImplementedError()\n"


def test_marker_lines_with_trailing_spaces_are_markers():
    assert strip_solutions("### BEGIN SOLUTION  \nx = 1\n### END SOLUTION\t") == "\n".join(STUB)


@pytest.mark.parametrize("source", [
    "x = 1\ny = 2",
    'print("### BEGIN SOLUTION")\nprint("### END SOLUTION")',   # the text inside a string, not a line
    "text = '''\n    say ### BEGIN SOLUTION here\n'''",
    "",
])
def test_sources_without_marker_lines_are_unchanged(source):
    assert strip_solutions(source) == source
    assert student.count_solutions(source) == 0


@pytest.mark.parametrize("source, phrase", [
    ("def f():\n    ### BEGIN SOLUTION\n    return 1", f"'{BEGIN}' on line 2 has no '{END}' after it"),
    ("x = 1\n### END SOLUTION", f"'{END}' on line 2 has no '{BEGIN}' before it"),
    ("### BEGIN SOLUTION\na = 1\n### BEGIN SOLUTION\nb = 2\n### END SOLUTION\n### END SOLUTION",
     f"nested '{BEGIN}' on line 3: the block opened on line 1"),
    ("def f():\n    ### BEGIN SOLUTION\n    return 1\n### END SOLUTION",
     "is indented 0 characters, its '### BEGIN SOLUTION' on line 2 4"),
    ("def f():\n    ## BEGIN SOLUTION\n    return 1\n    ## END SOLUTION",
     "line 2 looks like a solution marker but is '## BEGIN SOLUTION'"),
    ("#### END SOLUTION", "line 1 looks like a solution marker"),
])
def test_malformed_markers_raise_a_clear_error(source, phrase):
    with pytest.raises(ValueError) as err:
        strip_solutions(source)
    assert phrase in str(err.value)


def test_markdown_answers_are_replaced_but_fenced_examples_kept():
    source = "\n".join([
        "Why is PPV lower in screening?",
        "",
        "### BEGIN SOLUTION",
        "Because the prevalence is lower.",
        "### END SOLUTION",
        "",
        "The markers look like this:",
        "```python",
        "### BEGIN SOLUTION",
        "### END SOLUTION",
        "```",
    ])
    out = strip_solutions(source, markdown=True).split("\n")
    assert "Because the prevalence is lower." not in out
    assert out[2] == "YOUR ANSWER HERE"
    assert out[-4:] == ["```python", BEGIN, END, "```"]
    assert student.count_solutions(source, markdown=True) == 1
    assert student.count_solutions(source) == 2  # code has no fences: the example counts there


# --------------------------------------------------------------------------------------
# make_student_copy: the notebook transformation
# --------------------------------------------------------------------------------------

def _toy_notebook():
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    solution = nbformat.v4.new_code_cell("def f():\n    ### BEGIN SOLUTION\n    return 42\n    ### END SOLUTION",
                                         execution_count=2)
    solution.outputs = [nbformat.v4.new_output("stream", name="stdout", text="42\n")]
    plain = nbformat.v4.new_code_cell("print(1)", execution_count=1, metadata={"tags": ["nbval-ignore-output"]})
    plain.outputs = [nbformat.v4.new_output("stream", name="stdout", text="1\n")]
    prose = nbformat.v4.new_markdown_cell("Write `f` between `### BEGIN SOLUTION` and `### END SOLUTION`.")
    nb.cells = [prose, plain, solution, nbformat.v4.new_raw_cell("### BEGIN SOLUTION")]
    return nb


def test_make_student_copy_changes_only_the_solution_cell():
    nb = _toy_notebook()
    before = nbformat.writes(nb)
    copy = make_student_copy(nb)
    assert nbformat.writes(nb) == before, "the original notebook was modified"
    prose, plain, solution, raw = copy.cells
    assert solution.source == "def f():\n    # YOUR CODE HERE\n    raise NotImplementedError()"
    assert solution.outputs == [] and solution.execution_count is None
    assert prose == nb.cells[0] and plain == nb.cells[1] and raw == nb.cells[3]
    assert copy.metadata == nb.metadata
    nbformat.validate(copy)


def test_make_student_copy_names_the_notebook_and_the_cell_index():
    nb = _toy_notebook()
    nb.cells.append(nbformat.v4.new_code_cell("def g():\n    ### BEGIN SOLUTION\n    return 1"))
    with pytest.raises(ValueError, match=r"^lesson\.ipynb, cell 4 \(code\): '### BEGIN SOLUTION' on line 2 has no"):
        make_student_copy(nb, "lesson.ipynb")


def test_make_student_copy_rejects_what_is_not_a_notebook():
    with pytest.raises(ValueError, match="expected an nbformat notebook, got str"):
        make_student_copy("def f(): pass")


# --------------------------------------------------------------------------------------
# the real notebooks
# --------------------------------------------------------------------------------------

def test_the_course_has_exercises_to_strip():
    names = {p.stem for p in NOTEBOOKS}
    assert {"01_dense_backprop", "06_rnn_bptt"} <= names
    assert all(_solution_cells(_read(ROOT / "notebooks" / f"{n}.ipynb")) for n in ("01_dense_backprop", "06_rnn_bptt"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_student_copy_of_a_course_notebook(path):
    nb = _read(path)
    copy = make_student_copy(nb, str(path))
    nbformat.validate(copy)
    assert len(copy.cells) == len(nb.cells) and copy.metadata == nb.metadata
    solution_cells = set(_solution_cells(nb))

    # solution cells: exactly the lines outside the blocks, plus one stub per block, at its indentation
    for i in solution_cells:
        inside, outside = _split_solution(nb.cells[i].source)
        got = copy.cells[i].source.split("\n")
        assert [line for line in got if line.strip() not in STUB] == outside, f"cell {i}"
        indents = [line[:len(line) - len(line.lstrip())] for line in nb.cells[i].source.split("\n")
                   if line.strip() == BEGIN]
        assert [line for line in got if line.strip() in STUB] == [ind + s for ind in indents for s in STUB], f"cell {i}"
        assert copy.cells[i].outputs == [] and copy.cells[i].execution_count is None
        compile(copy.cells[i].source, f"{path.name} cell {i}", "exec")

    # every solution line is gone from the whole copy, unless the notebook also has it outside a solution
    outside_anywhere = set()
    for c in nb.cells:
        if c.cell_type == "code":
            outside_anywhere.update(line.strip() for line in _split_solution(c.source)[1])
    secret = {line.strip() for i in solution_cells for line in _split_solution(nb.cells[i].source)[0]}
    secret -= outside_anywhere | {""}
    assert not secret & _code_lines(copy), f"solution lines left in the student copy of {path.name}"
    assert all(BEGIN not in c.source and END not in c.source for c in copy.cells if c.cell_type == "code")

    # check cells keep their source but lose the solution's stored verdict ("✔ ... correct")
    check_cells = {i for i, c in enumerate(nb.cells)
                   if c.cell_type == "code" and i not in solution_cells and re.search(r"\bcheck_\w+\(", c.source)}
    checked = _checked_solution_cells(nb)
    assert len(check_cells) >= len(checked) > 0 or not checked
    for i in check_cells:
        assert copy.cells[i].source == nb.cells[i].source
        assert copy.cells[i].outputs == [] and copy.cells[i].execution_count is None, f"{path.name} cell {i}"

    # written answers (markdown cells with marker lines, e.g. the expected results of open questions):
    # each block becomes "YOUR ANSWER HERE", every line outside the blocks stays, no answer line is left
    answer_cells = {i for i, c in enumerate(nb.cells)
                    if c.cell_type == "markdown" and student.count_solutions(c.source, markdown=True)}
    for i in answer_cells:
        inside, outside = _split_solution(nb.cells[i].source)
        got = copy.cells[i].source.split("\n")
        assert [line for line in got if line.strip() not in TEXT_STUB] == outside, f"cell {i}"
        n_blocks = student.count_solutions(nb.cells[i].source, markdown=True)
        assert sum(line.strip() in TEXT_STUB for line in got) == n_blocks, f"cell {i}"
        assert not ({line.strip() for line in inside} - {""}) & {line.strip() for line in got}, f"cell {i}"

    # every other cell, markers in prose included, is kept as it was: source, outputs, counts, metadata
    for i, (a, b) in enumerate(zip(nb.cells, copy.cells)):
        if i not in solution_cells | check_cells | answer_cells:
            assert a == b, f"{path.name} cell {i} changed"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_later_cells_do_not_use_the_students_functions(path):
    """A student copy runs top to bottom: after an exercise, only its check cell may call it."""
    nb = _read(path)
    for i in _solution_cells(nb):
        defined = {n.name for n in ast.parse(nb.cells[i].source).body
                   if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
        for j in range(i + 2, len(nb.cells)):
            c = nb.cells[j]
            if c.cell_type != "code" or j in _solution_cells(nb):
                continue
            used = {n.id for n in ast.walk(ast.parse(c.source)) if isinstance(n, ast.Name)}
            assert not used & defined, f"{path.name} cell {j} uses {sorted(used & defined)} from exercise cell {i}"


def _imports_of(nb) -> str:
    """The notebook's top-level import statements (TensorFlow and Keras left out: the checks
    are NumPy code), to run before its exercise cells."""
    lines = []
    for c in nb.cells:
        if c.cell_type != "code":
            continue
        for node in ast.parse(c.source).body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
                if not any(n.split(".")[0] in ("tensorflow", "keras") for n in names):
                    lines.append(ast.unparse(node))
    return "\n".join(lines)


@pytest.mark.parametrize("path", [p for p in NOTEBOOKS if _solution_cells(_read(p))], ids=lambda p: p.stem)
def test_student_stubs_and_checks_run_in_process(path):
    """Each stub cell and the check cell after it, run in one namespace with the notebook's
    imports: the check prints "not implemented yet" and nothing raises."""
    nb = _read(path)
    copy = make_student_copy(nb, str(path))
    namespace = {"__name__": "__main__"}
    exec(_imports_of(nb), namespace)
    for i in _solution_cells(nb):
        if i not in _checked_solution_cells(nb):   # an open exercise: its stub must at least compile
            compile(copy.cells[i].source, f"{path.name} cell {i}", "exec")
            continue
        check = copy.cells[i + 1]
        assert check.cell_type == "code" and "check_" in check.source, f"{path.name}: no check cell after cell {i}"
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(copy.cells[i].source, f"{path.name} cell {i}", "exec"), namespace)
            try:
                exec(compile(check.source, f"{path.name} cell {i + 1}", "exec"), namespace)
            except NameError as err:
                pytest.fail(f"{path.name} cell {i + 1}: a check cell must need only the exercise and the "
                            f"notebook's imports ({err})")
        assert NOT_IMPLEMENTED in out.getvalue(), f"{path.name} cell {i + 1} printed {out.getvalue()!r}"


@pytest.mark.parametrize("name", ["01_dense_backprop", "06_rnn_bptt"])
def test_student_copy_exercises_run_in_a_kernel(name, tmp_path):
    """The real thing for two chapters: a kernel runs the copy's set-up cell, then every stub
    and check cell, in the environment of the stored outputs. ~5 s each (TensorFlow import)."""
    pytest.importorskip("nbclient")
    from nbclient import NotebookClient

    # the kernel inherits the environment of the stored outputs (set by the root conftest.py)
    nb = _read(ROOT / "notebooks" / f"{name}.ipynb")
    copy = make_student_copy(nb, name)
    setup = next(c for c in copy.cells if c.cell_type == "code")
    exercises = [c for i in _solution_cells(nb) for c in (copy.cells[i], copy.cells[i + 1])]
    copy.cells = [setup, *exercises]
    NotebookClient(copy, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(ROOT / "notebooks")}}).execute()
    for stub, check in zip(exercises[::2], exercises[1::2]):
        assert not any(o.output_type == "error" for o in stub.outputs + check.outputs)
        text = "".join(o.get("text", "") for o in check.outputs)
        assert text.startswith("✘ ") and NOT_IMPLEMENTED in text, text


# --------------------------------------------------------------------------------------
# the command line and make
# --------------------------------------------------------------------------------------

def _cli(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "helpers.student", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def test_cli_writes_the_copies(tmp_path):
    out = tmp_path / "student"
    chosen = [Path("notebooks/01_dense_backprop.ipynb"), Path("notebooks/06_rnn_bptt.ipynb")]
    run = _cli("--out", out, *chosen)
    assert run.returncode == 0, run.stderr
    expected = f"notebooks/01_dense_backprop.ipynb -> {out}/01_dense_backprop.ipynb: 7 solution blocks replaced"
    assert expected in run.stdout
    assert "06_rnn_bptt.ipynb: 5 solution blocks replaced" in run.stdout  # 4 code exercises, 1 written answer
    assert sorted(p.name for p in out.iterdir()) == ["01_dense_backprop.ipynb", "06_rnn_bptt.ipynb"]
    for p in chosen:
        written = _read(out / p.name)
        nbformat.validate(written)
        assert written == make_student_copy(_read(ROOT / p))
        assert "mybinder.org" in written.cells[0].source  # the badge travels with the copy


def test_cli_defaults_to_every_notebook(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    assert student.main(["--out", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [p.name for p in NOTEBOOKS]
    assert capsys.readouterr().out.count(" solution block") == len(NOTEBOOKS)


def test_cli_reports_a_malformed_notebook_and_writes_nothing(tmp_path):
    nb = _toy_notebook()
    nb.cells[2].source = "def f():\n    ### BEGIN SOLUTION\n    return 42"
    bad = tmp_path / "src" / "bad.ipynb"
    bad.parent.mkdir()
    nbformat.write(nb, bad)
    good = ROOT / "notebooks" / "01_dense_backprop.ipynb"
    run = _cli("--out", tmp_path / "out", good, bad)
    assert run.returncode == 1
    assert f"{bad}, cell 2 (code): '### BEGIN SOLUTION' on line 2 has no '### END SOLUTION' after it" in run.stderr
    assert not (tmp_path / "out").exists()


def test_cli_refuses_to_overwrite_the_solutions(tmp_path):
    src = tmp_path / "01_dense_backprop.ipynb"
    src.write_bytes((ROOT / "notebooks" / "01_dense_backprop.ipynb").read_bytes())
    run = _cli("--out", tmp_path, src)
    assert run.returncode == 1 and "would overwrite the solutions" in run.stderr
    assert src.read_bytes() == (ROOT / "notebooks" / "01_dense_backprop.ipynb").read_bytes()


def test_cli_names_a_missing_notebook(tmp_path):
    run = _cli("--out", tmp_path, "notebooks/99_nothing.ipynb")
    assert run.returncode == 2 and "no such notebook: notebooks/99_nothing.ipynb" in run.stderr


def test_make_student_target():
    makefile = (ROOT / "Makefile").read_text()
    assert "\nstudent: $(STAMP)\n\t$(PY) -m helpers.student --out build/student " in makefile
    assert "--binder-ref $(BINDER_REF)" in makefile
    assert "build/" in (ROOT / ".gitignore").read_text().split()


def test_binder_ref_points_the_copies_badges_at_the_student_branch(tmp_path):
    path = ROOT / "notebooks" / "01_dense_backprop.ipynb"
    assert student.main(["--out", str(tmp_path), "--binder-ref", "student", str(path)]) == 0
    text = "".join(c.source for c in _read(tmp_path / path.name).cells if c.cell_type == "markdown")
    badge = "https://mybinder.org/v2/gh/dl4health/dl4health/student?urlpath=lab/tree/notebooks/01_dense_backprop.ipynb"
    assert badge in text
    assert "/HEAD?" not in text
    # without the option, the badge is left as it is
    plain = make_student_copy(_read(path))
    assert "dl4health/dl4health/HEAD?urlpath=lab/tree/notebooks/01_dense_backprop.ipynb" in plain.cells[0].source


def test_binder_ref_must_be_a_ref_name():
    with pytest.raises(ValueError, match="binder_ref must be a git branch or tag name, got 'a b'"):
        make_student_copy(_toy_notebook(), binder_ref="a b")
