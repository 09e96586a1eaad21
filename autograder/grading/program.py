"""Find the student's code by the names it must define, as a notebook run top to bottom would.

Each code cell is first turned into plain Python with IPython's own ``TransformerManager``
(magics become ``get_ipython()`` calls, which do nothing in the sandbox; ``%%time`` and
``%%capture`` cells keep their body; ``%%bash`` and other non-Python cells are skipped). Then the
top-level statements are sliced backwards from the required names: a statement is kept when it
binds or changes a name that is still needed, and the names it reads become needed in turn.
Function bodies are read when the function is *called*, after the whole notebook has run, so
the names they use are needed in their final binding. The result, in notebook order:

* definitions of the required names and everything they use (helpers, imports, constants);
* a later definition of a name wins, as in a notebook run top to bottom;
* cells may be copied, reordered or stripped of metadata: only their code matters;
* plots, prints, training loops and the student's own tests are left out, unless a required
  name depends on them.

Every kept statement becomes its own :class:`~.run.Snippet`, padded so that line numbers in
tracebacks match the cell, and a statement that fails does not stop the ones after it.
"""

from __future__ import annotations

import ast
import re
import symtable
from collections.abc import Iterable
from dataclasses import dataclass, field

from .. import i18n
from .notebook import Cell
from .run import Snippet

# Cell magics whose body is ordinary Python that runs in the user's namespace.
_PYTHON_CELL_MAGICS = {"time", "timeit", "capture", "prun"}
_LINE_TIMING = re.compile(r"^(\s*)%{1,2}(?:time|timeit|prun)\b((?:\s+-\S+(?:\s+\d+)?)*)\s+(.*)$")


@dataclass(frozen=True)
class Program:
    """The code to run, and notes for the learner about cells that could not be used."""

    snippets: tuple[Snippet, ...]
    notes: tuple[str, ...]
    defined: frozenset[str]  # required names some kept statement binds
    uses: dict = field(default_factory=dict)  # required name -> other required names it reads
    # required name -> why it could not be read: the syntax error of the cell that defines it
    broken: dict = field(default_factory=dict)


def to_python(source: str) -> str | None:
    """The cell as plain Python, or None when it is not Python (``%%bash``, ``%%html``...)."""
    lines = source.splitlines()
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is not None and lines[first].lstrip().startswith("%%"):
        name = lines[first].strip()[2:].split(maxsplit=1)
        if not name or name[0] not in _PYTHON_CELL_MAGICS:
            return None
        lines[first] = ""  # keep the line numbers of the body
        source = "\n".join(lines)
    lines = [_LINE_TIMING.sub(r"\1\3", line) for line in source.splitlines()]
    source = "\n".join(lines) + "\n"
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        return TransformerManager().transform_cell(source)
    except Exception:  # noqa: BLE001 - an untransformable cell is left as written
        return source


@dataclass
class _Statement:
    cell: int
    start: int  # first line (decorators included), 1-based
    text: str
    binds: set[str]  # names (re)bound
    changes: set[str]  # names whose value is changed in place (x.a = ..., x[0] = ...)
    method_calls: set[str]  # names a method is called on (x.f()): a change unless x is a module
    imports: set[str]  # names bound by an import
    reads_now: set[str]  # names read when the statement runs
    reads_later: set[str]  # names read when a function defined here is called
    conditional: bool  # a binding that may not happen (if, for, try, with...)
    star: bool  # from m import *


def _root(node) -> str | None:
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Call, ast.Starred)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def _targets(target, binds: set, changes: set) -> None:
    if isinstance(target, ast.Name):
        binds.add(target.id)
    elif isinstance(target, (ast.Tuple, ast.List)):
        for item in target.elts:
            _targets(item, binds, changes)
    elif isinstance(target, ast.Starred):
        _targets(target.value, binds, changes)
    else:
        root = _root(target)
        if root:
            changes.add(root)


class _Bindings(ast.NodeVisitor):
    """Names bound at the top level of a statement (not inside functions or classes it defines)."""

    def __init__(self):
        self.binds: set[str] = set()
        self.changes: set[str] = set()
        self.method_calls: set[str] = set()
        self.imports: set[str] = set()
        self.star = False

    def visit_FunctionDef(self, node):
        self.binds.add(node.name)

    visit_AsyncFunctionDef = visit_FunctionDef
    visit_ClassDef = visit_FunctionDef

    def visit_Lambda(self, node):
        pass

    def visit_Import(self, node):
        for alias in node.names:
            self.imports.add(alias.asname or alias.name.split(".")[0])
        self.binds |= self.imports

    def visit_ImportFrom(self, node):
        for alias in node.names:
            if alias.name == "*":
                self.star = True
            else:
                self.imports.add(alias.asname or alias.name)
        self.binds |= self.imports

    def visit_Name(self, node):
        if isinstance(node.ctx, (ast.Store, ast.Del)):
            self.binds.add(node.id)

    def _store(self, target):
        _targets(target, self.binds, self.changes)

    def visit_Assign(self, node):
        for target in node.targets:
            self._store(target)
        self.visit(node.value)

    def visit_AugAssign(self, node):
        self._store(node.target)
        if isinstance(node.target, ast.Name):
            self.changes.add(node.target.id)
        self.visit(node.value)

    def visit_AnnAssign(self, node):
        if node.value is not None:
            self._store(node.target)
            self.visit(node.value)

    def visit_Delete(self, node):
        for target in node.targets:
            self._store(target)

    def visit_Expr(self, node):
        # A method call on a name may change it in place: params.update(...), vocab.append(c).
        if isinstance(node.value, ast.Call):
            root = _root(node.value.func)
            if root and isinstance(node.value.func, ast.Attribute):
                self.method_calls.add(root)
        self.generic_visit(node)


def _reads(text: str) -> tuple[set[str], set[str]]:
    """(names read when the statement runs, names read later by the functions it defines)."""
    now: set[str] = set()
    later: set[str] = set()

    def walk(table, deferred: bool) -> None:
        kind = table.get_type()
        kind = getattr(kind, "value", kind)  # an enum from Python 3.12 on
        for sym in table.get_symbols():
            if kind == "module":
                if sym.is_referenced():
                    now.add(sym.get_name())
            elif sym.is_global() and sym.is_referenced():
                (later if deferred else now).add(sym.get_name())
            elif kind == "class" and sym.is_referenced() and not sym.is_assigned():
                (later if deferred else now).add(sym.get_name())
        for child in table.get_children():
            child_kind = child.get_type()
            child_kind = getattr(child_kind, "value", child_kind)
            # Comprehensions run at once; function and lambda bodies run when called.
            runs_later = child_kind == "function" and not child.get_name().endswith("comp")
            walk(child, deferred or runs_later)
            if runs_later and child.get_name() == "genexpr":
                walk(child, deferred)

    walk(symtable.symtable(text, "<statement>", "exec"), False)
    return now, later


def _segment(lines: list[str], start: int, col: int, end: int, end_col: int) -> str:
    """The source between two positions (1-based lines, 0-based UTF-8 byte columns)."""
    if start == end:
        return lines[start - 1].encode()[col:end_col].decode()
    first = lines[start - 1].encode()[col:].decode()
    last = lines[end - 1].encode()[:end_col].decode()
    return first + "".join(lines[start : end - 1]) + last


def _statements(cell_number: int, code: str) -> list[_Statement]:
    tree = ast.parse(code)
    lines = code.splitlines(True)
    out = []
    for node in tree.body:
        decorators = [d.lineno for d in getattr(node, "decorator_list", [])]
        start = min([node.lineno, *decorators])
        if decorators:
            text = _segment(lines, start, 0, node.end_lineno, node.end_col_offset)
        else:
            text = _segment(lines, start, node.col_offset, node.end_lineno, node.end_col_offset)
        bindings = _Bindings()
        bindings.visit(node)
        now, later = _reads(text)
        conditional = not isinstance(
            node,
            (
                ast.FunctionDef,
                ast.AsyncFunctionDef,
                ast.ClassDef,
                ast.Import,
                ast.ImportFrom,
                ast.Assign,
                ast.AnnAssign,
                ast.AugAssign,
                ast.Expr,
            ),
        )
        out.append(
            _Statement(
                cell=cell_number,
                start=start,
                text=text,
                binds=bindings.binds - bindings.changes,
                changes=bindings.changes,
                method_calls=bindings.method_calls,
                imports=bindings.imports,
                reads_now=now,
                reads_later=later,
                conditional=conditional,
                star=bindings.star,
            )
        )
    return out


def _slice(statements: list[_Statement], required: set[str]) -> list[int]:
    """Indices of the statements to keep, in order (see the module docstring).

    Method calls on modules (``np.random.seed(0)``, ``plt.plot(H)``, ``np.testing.assert_...``)
    do not count as changes: they configure or use a library, and running them would run the
    learner's plots and own tests. Assignments to a module's attributes do count.
    """
    imported = set().union(*(s.imports for s in statements))
    ordinary = set().union(*(s.binds - s.imports for s in statements))
    modules = imported - ordinary
    for s in statements:
        s.changes |= s.method_calls - modules
    final = set(required)
    while True:
        needed = set(final)
        kept: list[int] = []
        later: set[str] = set()
        for i in range(len(statements) - 1, -1, -1):
            s = statements[i]
            if not (s.star or (s.binds | s.changes) & needed):
                continue
            kept.append(i)
            if not s.conditional:
                needed -= s.binds - s.reads_now
            needed |= s.reads_now | s.changes
            later |= s.reads_later
        if later <= final:
            return kept[::-1]
        final |= later


def find_program(cells: Iterable[Cell], required: Iterable[str]) -> Program:
    """The statements that define ``required`` (and what they need), as snippets to run."""
    required = set(required)
    statements: list[_Statement] = []
    notes: list[str] = []
    broken: dict[str, str] = {}
    for cell in cells:
        if cell.kind != "code" or not cell.source.strip():
            continue
        code = to_python(cell.source)
        if code is None:
            magic = cell.source.strip().split()[0]
            notes.append(
                i18n._("cell {number} is a {magic} cell, not Python; it was skipped").format(
                    number=cell.number, magic=magic
                )
            )
            continue
        try:
            statements += _statements(cell.number, code)
        except SyntaxError as err:
            where = i18n._("line {line}: ").format(line=err.lineno) if err.lineno else ""
            notes.append(
                i18n._(
                    "cell {number} has a syntax error ({where}{error}) and was skipped, "
                    "as Jupyter would skip it"
                ).format(number=cell.number, where=where, error=err.msg)
            )
            line = i18n._(" on line {line}").format(line=err.lineno) if err.lineno else ""
            for name in sorted(required & _named_in(code)):
                broken.setdefault(
                    name,
                    i18n._(
                        "{name} could not be read: cell {number}, which defines it, has a "
                        "syntax error{line} ({error}). Fix that line (Jupyter shows it when "
                        "you run the cell), then submit again"
                    ).format(name=name, number=cell.number, line=line, error=err.msg),
                )
        except (ValueError, RecursionError, MemoryError) as err:
            notes.append(
                i18n._("cell {number} could not be read ({error}); skipped").format(
                    number=cell.number, error=type(err).__name__
                )
            )
    kept = _slice(statements, required)
    snippets = tuple(
        Snippet(f"cell {statements[i].cell}", "\n" * (statements[i].start - 1) + statements[i].text)
        for i in kept
    )
    defined = frozenset(name for i in kept for name in statements[i].binds & required)
    uses = {}
    for i in kept:
        for name in statements[i].binds & required:
            uses[name] = (statements[i].reads_now | statements[i].reads_later) & required - {name}
    return Program(snippets, tuple(notes), defined, uses, broken)


def _named_in(code: str) -> set[str]:
    """Names a cell that does not parse seems to define (``def f``, ``class C``, ``x =``)."""
    return set(re.findall(r"^[ \t]*(?:(?:async[ \t]+)?def|class)[ \t]+(\w+)", code, re.M)) | set(
        re.findall(r"^(\w+)[ \t]*(?::[^=\n]*)?=(?!=)", code, re.M)
    )


def prune_module(source: str, keep: Iterable[str], header: str = "") -> str:
    """A module reduced to the statements that define ``keep`` and what they need.

    Used to hand the sandbox only the reference functions an assignment gives to the learner.
    ``from __future__`` imports stay first; ``header`` becomes the module's docstring.
    """
    statements = _statements(0, source)
    kept = _slice(statements, set(keep))
    future = [s.text for s in statements if s.text.startswith("from __future__")]
    body = [statements[i].text for i in kept if statements[i].text not in future]
    parts = [repr(header)] if header else []
    return "\n\n".join(parts + future + body) + "\n"
