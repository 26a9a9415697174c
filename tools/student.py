"""Student versions of the notebooks: every written-out solution becomes a stub (`make student`).

The course keeps nbgrader's markers, so an instructor who uses nbgrader can take the notebooks as
they are: a solution sits between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` comment lines,
and tests that students must not see sit between ``### BEGIN HIDDEN TESTS`` and
``### END HIDDEN TESTS``.

An exercise in this course is two cells: the student's cell (a stub that returns None, and the call
of the registered checker, which says "not attempted" for it) and, below it, the instructor's cell
(hidden, skipped on slides) that writes the solution out between the markers and checks it. The
student version therefore

- drops a solution cell whose marked code only redefines names that an earlier cell already
  defines (the student's stub): its solution, its checks and its comments all go;
- replaces, in any other cell, each marked block by a stub made from the solution's own code:
  a function keeps its signature (and docstring) and returns None, an assignment assigns None,
  anything else is left out; the checker then reports "not attempted" instead of crashing;
- removes hidden tests, outputs, and the build records (`course_build`, jupytext's pairing), so
  that the student's notebook is a plain notebook with nothing of the solutions in it.
"""

from __future__ import annotations

import ast
import copy
import io
import re
import textwrap
import tokenize
from dataclasses import dataclass

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
STUB_COMMENT = "# YOUR CODE HERE"


@dataclass
class Report:
    """What the transformation did to one notebook."""

    solution_blocks: int = 0  # blocks between the solution markers (one per exercise)
    dropped_cells: int = 0  # instructor's solution cells left out (the stub cell above stays)
    stubbed_blocks: int = 0  # blocks replaced by a stub in place
    hidden_blocks: int = 0  # hidden-test blocks removed


def _source(cell) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _blocks(lines: list[str], begin: str, end: str, where: str) -> list[tuple[int, int]]:
    """(begin line, end line) index pairs of marked blocks; unbalanced markers are an error."""
    pairs, start = [], None
    for i, line in enumerate(lines):
        mark = line.strip()
        if mark == begin:
            if start is not None:
                raise ValueError(f"{where}: '{begin}' twice without '{end}' (line {i + 1})")
            start = i
        elif mark == end:
            if start is None:
                raise ValueError(f"{where}: '{end}' without '{begin}' (line {i + 1})")
            pairs.append((start, i))
            start = None
    if start is not None:
        raise ValueError(f"{where}: '{begin}' (line {start + 1}) is never closed by '{end}'")
    return pairs


def defined_names(code: str) -> set[str]:
    """Top-level names a piece of code defines (functions, classes, assignments, imports)."""
    try:
        tree = ast.parse(textwrap.dedent(code))
    except SyntaxError:
        return set()
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                names.update(n.id for n in ast.walk(t) if isinstance(n, ast.Name))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names


def _header_end(lines: list[str], node: ast.AST) -> tuple[int, int]:
    """(line index, column) just after the colon that ends a def/class header: comments below it stay out."""
    depth, start = 0, node.lineno - 1
    text = "\n".join(lines[start:]) + "\n"
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        if tok.type == tokenize.OP and tok.string in "([{":
            depth += 1
        elif tok.type == tokenize.OP and tok.string in ")]}":
            depth -= 1
        elif tok.type == tokenize.OP and tok.string == ":" and depth == 0:
            return start + tok.end[0] - 1, tok.end[1]
    raise ValueError(f"no ':' ends the header of {getattr(node, 'name', '?')}")


def stub(code: str) -> str:
    """A stub for a solution: the same functions (signature, docstring) returning None, names set to None."""
    indent = re.match(r"[ \t]*", next((ln for ln in code.splitlines() if ln.strip()), "")).group(0)
    body = textwrap.dedent(code)
    try:
        tree = ast.parse(body)
    except SyntaxError:  # a fragment (e.g. the body of a function whose def is outside the markers)
        return f"{indent}{STUB_COMMENT}\n{indent}return None\n" if indent else f"{STUB_COMMENT}\n"
    lines = body.splitlines()
    out: list[str] = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            first = node.body[0]
            start = (node.decorator_list[0].lineno if node.decorator_list else node.lineno) - 1
            end_line, end_col = _header_end(lines, node)  # decorators and signature, not the body's comments
            header = lines[start:end_line] + [lines[end_line][:end_col]]
            inner = " " * (node.col_offset + 4)
            out.extend(header)
            if (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
                    and isinstance(first.value.value, str)):  # keep the docstring: it is the task
                out.extend(lines[first.lineno - 1: first.end_lineno])
            if isinstance(node, ast.ClassDef):
                out.append(f"{inner}...  {STUB_COMMENT}")
            else:
                out.extend([f"{inner}{STUB_COMMENT}", f"{inner}return None"])
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names = [ast.unparse(t) for t in targets]
            if isinstance(node, ast.AnnAssign):
                out.append(f"{names[0]}: {ast.unparse(node.annotation)} = None  {STUB_COMMENT}")
            else:
                out.append(f"{' = '.join(names)} = None  {STUB_COMMENT}")
    if not out:
        out = [STUB_COMMENT]
    return textwrap.indent("\n".join(out), indent) + "\n"


def _replace_blocks(lines: list[str], pairs: list[tuple[int, int]], make) -> list[str]:
    out, last = [], 0
    for b, e in pairs:
        out.extend(lines[last:b])
        out.extend(make(lines[b + 1: e]))
        last = e + 1
    out.extend(lines[last:])
    return out


def student_notebook(nb, name: str = "notebook"):
    """(the student version of ``nb``, a :class:`Report`); ``nb`` is left unchanged."""
    nb = copy.deepcopy(nb)
    report = Report()
    cells, defined = [], set()
    for index, cell in enumerate(nb["cells"]):
        where = f"{name}, cell {index + 1}"
        src = _source(cell)
        if cell.get("cell_type") != "code":
            if BEGIN in src or BEGIN_HIDDEN in src:
                raise ValueError(f"{where}: solution markers in a {cell.get('cell_type')} cell (only code "
                                 "cells are turned into stubs)")
            cells.append(cell)
            continue
        lines = src.splitlines(keepends=True)
        hidden = _blocks(lines, BEGIN_HIDDEN, END_HIDDEN, where)
        report.hidden_blocks += len(hidden)
        lines = _replace_blocks(lines, hidden, lambda block: [])
        pairs = _blocks(lines, BEGIN, END, where)
        if pairs:
            report.solution_blocks += len(pairs)
            names = set().union(*(defined_names("".join(lines[b + 1: e])) for b, e in pairs))
            if names and names <= defined:  # the instructor's copy of the stub cell above: leave it out
                report.dropped_cells += 1
                continue
            report.stubbed_blocks += len(pairs)
            lines = _replace_blocks(lines, pairs, lambda block: [stub("".join(block))])
            jupyter = cell.get("metadata", {}).get("jupyter", {})
            jupyter.pop("source_hidden", None)  # the student writes here: show it
            if not jupyter:
                cell.get("metadata", {}).pop("jupyter", None)
        source = "".join(lines)
        cell["source"] = source
        cell["outputs"], cell["execution_count"] = [], None
        defined |= defined_names(source)
        cells.append(cell)
    nb["cells"] = cells
    for key in ("course_build", "jupytext", "widgets"):
        nb.get("metadata", {}).pop(key, None)
    leftovers = [m for m in (BEGIN, END, BEGIN_HIDDEN, END_HIDDEN) for c in cells if m in _source(c)]
    if leftovers:
        raise ValueError(f"{name}: markers left in the student version: {sorted(set(leftovers))}")
    return nb, report


def solution_code(nb) -> tuple[set[str], set[str]]:
    """(the lines inside solution and hidden-test blocks, the code lines outside them): to prove that a
    student version keeps no line of a solution that is not also written elsewhere (a signature)."""
    inside, outside = set(), set()
    for cell in nb["cells"]:
        lines = _source(cell).splitlines()
        if cell.get("cell_type") != "code":
            continue
        marked = set()
        for begin, end in ((BEGIN, END), (BEGIN_HIDDEN, END_HIDDEN)):
            for b, e in _blocks(lines, begin, end, "notebook"):
                marked.update(range(b + 1, e))
        inside.update(lines[i] for i in marked if lines[i].strip())
        outside.update(ln for i, ln in enumerate(lines) if i not in marked)
    return inside, outside
