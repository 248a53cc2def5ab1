"""What one file's own code says about its Keras: the roots it imports, the legacy switch
(and where it is set relative to the first TensorFlow import), Keras-2-only and Keras-3-only
APIs, and for notebooks `!pip install` / `%env` lines and Colab.

Read with `ast` (about a millisecond for a few hundred lines; LibCST's parse comes later and
is ten times dearer), or with a line scan when the file does not parse.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Sequence

from kerlint.keras_version.project import LEGACY_VARIABLE, legacy_value
from kerlint.keras_version.requirements import (
    Requirement,
    conda_install_requirements,
    parse,
    pip_install_arguments,
)

# Import roots, as decide_roots names them. "tensorflow.keras" is the module path
# (`from tensorflow.keras.layers import Dense`, `import tensorflow.keras`), fixed when
# tensorflow is imported; "tf.keras" is attribute access (`tf.keras.X`, `from tensorflow
# import keras`), resolved lazily when first touched (RESULTS.md §5.1).
TF_KERAS_ROOT, KERAS_ROOT, KERAS_CORE_ROOT = "tf_keras", "keras", "keras_core"
MODULE_PATH_ROOT, ATTRIBUTE_ROOT, INTERNAL_ROOT = (
    "tensorflow.keras",
    "tf.keras",
    "tensorflow.python.keras",
)

PRAGMA = re.compile(r"^[ \t]*#[ \t]*kerlint:[ \t]*keras[ \t]*=[ \t]*(2|3|auto)\b", re.M)
_TENSORFLOW_MODULES = ("tensorflow", "tensorflow.compat.v1", "tensorflow.compat.v2")
_OPTIMIZERS = {"Adam", "SGD", "RMSprop", "Adagrad", "Adadelta", "Adamax", "Nadam", "Ftrl", "AdamW"}
_ENV_MAGIC = rf"(?m)^\s*%(?:env|set_env)\s+{LEGACY_VARIABLE}(?:\s*=\s*|\s+)(\S*)"
_BACKEND_MAGIC = r"(?m)^\s*%(?:env|set_env)\s+KERAS_BACKEND(?:\s*=\s*|\s+)(\S+)"


class LegacyInCode:
    """`TF_USE_LEGACY_KERAS` set in the file, at a row of the (joined) program."""

    __slots__ = ("on", "only_if_unset", "row", "text")

    def __init__(self, row: int, on: bool | None, text: str, only_if_unset: bool = False) -> None:
        self.row = row
        self.on = on
        self.text = text
        self.only_if_unset = only_if_unset  # os.environ.setdefault


class CodeFacts:
    """What one file's code says; `parsed` once `ast` has read it (hints need that)."""

    __slots__ = (
        "colab",
        "fallbacks",
        "first_tensorflow_import",
        "keras2_hints",
        "keras3_hints",
        "legacy",
        "parsed",
        "pip_requirements",
        "roots",
        "starts",
    )

    def __init__(self) -> None:
        self.roots: dict[str, int] = {}  # root -> first row
        self.fallbacks: dict[str, str] = {}  # root -> the root it is the fallback of
        self.first_tensorflow_import: int | None = None
        self.legacy: list[LegacyInCode] = []
        self.keras2_hints: list[str] = []
        self.keras3_hints: list[str] = []
        self.pip_requirements: list[Requirement] = []
        self.colab = False
        self.parsed = False
        self.starts: list[int] | None = None  # a notebook's cells: the row each starts at

    def place(self, row: int) -> str:
        """`line 7`, or in a notebook `cell 3, line 2` (code cells, as editors count them)."""
        if not self.starts:
            return f"line {row}"
        cell = max(i for i, start in enumerate(self.starts) if start <= row) if row >= 1 else 0
        return f"cell {cell + 1}, line {row - self.starts[cell] + 1}"


def pragma(text: str) -> str | None:
    """The value of a `# kerlint: keras=2|3|auto` comment line, the last one winning."""
    if "kerlint:" not in text:
        return None
    found = PRAGMA.findall(text)
    return found[-1] if found else None


def root_of(module: str) -> str | None:
    """The import root of a dotted module name."""
    head = module.split(".")[0]
    if head == "tf_keras":
        return TF_KERAS_ROOT
    if head == "keras_core":
        return KERAS_CORE_ROOT
    if head == "keras":
        return KERAS_ROOT
    if module == "tensorflow.python.keras" or module.startswith("tensorflow.python.keras."):
        return INTERNAL_ROOT
    if module == "tensorflow.keras" or module.startswith("tensorflow.keras."):
        return MODULE_PATH_ROOT
    if module.startswith(("tensorflow.compat.v1.keras", "tensorflow.compat.v2.keras")):
        return MODULE_PATH_ROOT
    return None


# What only the `ast` reading sees: the switch, the backend, Colab, imports inside `try`.
_NEEDS_PARSE = (LEGACY_VARIABLE, "KERAS_BACKEND", "google.colab")
_IMPORT = r"(?m)^[ \t]*(?:from[ \t]+([\w.]+)[ \t]+import[ \t]+\(?[ \t]*([\w \t,]*)|import[ \t]+([\w., \t]+))"


# The text every Keras-2-only / Keras-3-only hint needs (so most files need no parse for them).
_HINT_TEXT = (
    r"_generator\b|\blr\s*=|\.legacy\b|experimental|get_session|ImageDataGenerator"
    r"|\bkeras\.(?:ops|config|random)\b|\bimport\b[^\n]*\b(?:ops|config|random)\b"
)


def needs_parse(text: str) -> bool:
    """Whether the line scan may miss something `read_code` would see: the switch, the
    backend, Colab, or an import inside `try` (a fallback: `except ImportError: import keras`)."""
    return any(word in text for word in _NEEDS_PARSE) or (
        re.search(r"(?m)^[ \t]*try[ \t]*:[ \t]*(?:#.*)?\n[ \t]+(?:import|from)[ \t]", text)
        is not None
    )


def may_have_hints(text: str) -> bool:
    """Whether a parse could find a Keras-2-only or Keras-3-only API at all."""
    return re.search(_HINT_TEXT, text) is not None


def cell_starts(cells: Sequence[str]) -> list[int]:
    """The row of the joined program (kerlint.source) at which each code cell starts."""
    starts, row = [], 1
    for cell in cells:
        text = cell.replace("\r\n", "\n")
        starts.append(row)
        row += text.count("\n") + (0 if text.endswith("\n") else 1)
    return starts


def scan_code(text: str, starts: list[int] | None = None) -> CodeFacts:
    """The imports from a scan of the lines that start with `import` / `from` (no parse).

    Enough when the project's pins decide; `read_code` parses for the switch and the hints.
    """
    facts = CodeFacts()
    facts.starts = starts
    tensorflow_names: list[str] = []
    import_rows: set[int] = set()
    row, last = 1, 0
    for match in re.finditer(_IMPORT, text):
        row += text.count("\n", last, match.start())
        last = match.start()
        import_rows.add(row)
        module, names, modules = match.group(1), match.group(2), match.group(3)
        if module is not None:
            _note_import(facts, module, row)
            bound = [n.split()[-1] for n in (names or "").split(",") if n.strip()]
            if module in _TENSORFLOW_MODULES and "keras" in {
                n.split()[0] for n in (names or "").split(",") if n.strip()
            }:
                facts.roots.setdefault(ATTRIBUTE_ROOT, row)
            if module == "tensorflow" and "compat" in bound:
                tensorflow_names.append("compat")
            continue
        for part in (modules or "").split(","):
            words = part.split()
            if not words:
                continue
            name = words[0]
            _note_import(facts, name, row)
            alias = words[2] if len(words) == 3 and words[1] == "as" else name.split(".")[0]
            if name in _TENSORFLOW_MODULES or (
                alias == "tensorflow" and name.startswith("tensorflow")
            ):
                tensorflow_names.append(alias)
    if tensorflow_names:
        names = "|".join(re.escape(n) for n in dict.fromkeys(tensorflow_names))
        for match in re.finditer(rf"(?<![\w.])(?:{names})(?:\.compat\.v[12])?\.keras\b", text):
            at = text.count("\n", 0, match.start()) + 1
            line_start = text.rfind("\n", 0, match.start()) + 1
            in_comment = "#" in text[line_start : match.start()]
            if at not in import_rows and not in_comment:
                facts.roots.setdefault(ATTRIBUTE_ROOT, at)
                break
    return facts


def _note_import(facts: CodeFacts, module: str, row: int) -> None:
    root = root_of(module)
    if root:
        facts.roots.setdefault(root, row)
    if module.split(".")[0] in ("tensorflow", "tf_keras") and facts.first_tensorflow_import is None:
        facts.first_tensorflow_import = row
    if module.startswith("google.colab"):
        facts.colab = True


def read_code(text: str, starts: list[int] | None = None) -> CodeFacts:
    """The file read with `ast`: imports, aliases, the switch, the Keras-2/3-only APIs."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        facts = scan_code(text, starts)  # it will be KL000 anyway
    else:
        facts = CodeFacts()
        facts.starts = starts
        try:
            _Visitor(facts).visit(tree)
        except RecursionError:  # an expression nested deeper than the visitor's stack
            facts = scan_code(text, starts)
    facts.parsed = True
    return facts


def add_notebook(facts: CodeFacts, cells: Sequence[str] | None, notebook: dict | None) -> None:
    """What the raw cells (magics) and the saved notebook (outputs, metadata) add."""
    if cells is not None:
        _read_cells(cells, facts)
    if notebook is not None:
        _read_notebook_extras(notebook, facts)


# Nodes with nothing below them that the visitor reads (it has no method for these).
_LEAVES = (
    ast.Name,
    ast.Constant,
    ast.expr_context,
    ast.operator,
    ast.unaryop,
    ast.cmpop,
    ast.boolop,
)


class _Visitor(ast.NodeVisitor):
    """One walk over the module: imports, aliases, the switch, the API hints."""

    def __init__(self, facts: CodeFacts) -> None:
        self.facts = facts
        self.aliases: dict[str, str] = {}  # local name -> dotted module or object
        self.try_roots: list[set[str]] = []
        self._methods: dict[type, Callable[[ast.AST], None]] = {}

    # NodeVisitor's own dispatch (a method looked up by name per node, every field of every
    # node examined) was most of the time the Keras decision took on large trees: the same
    # walk in the same order, with the lookup cached per node type and the leaves that hold
    # nothing (names, constants, contexts, operators) not entered.
    def visit(self, node: ast.AST) -> None:
        kind = type(node)
        method = self._methods.get(kind)
        if method is None:
            method = getattr(self, "visit_" + kind.__name__, self.generic_visit)
            self._methods[kind] = method
        method(node)

    def generic_visit(self, node: ast.AST) -> None:
        visit = self.visit
        for child in ast.iter_child_nodes(node):
            if not isinstance(child, _LEAVES):
                visit(child)

    def _root(self, root: str, row: int) -> None:
        self.facts.roots.setdefault(root, row)
        if self.try_roots:
            self.try_roots[-1].add(root)

    def _tensorflow_import(self, module: str, row: int) -> None:
        if module.split(".")[0] in ("tensorflow", "tf_keras"):
            first = self.facts.first_tensorflow_import
            if first is None or row < first:
                self.facts.first_tensorflow_import = row

    def visit_Try(self, node: ast.Try) -> None:
        self.try_roots.append(set())
        for statement in node.body:
            self.visit(statement)
        primary = self.try_roots.pop()
        for handler in node.handlers:
            names = _exception_names(handler.type)
            before = dict(self.facts.roots)
            for statement in handler.body:
                self.visit(statement)
            if primary and names & {"ImportError", "ModuleNotFoundError", "Exception"}:
                for root in set(self.facts.roots) - set(before):
                    if root not in primary:
                        self.facts.fallbacks[root] = sorted(primary)[0]
        for statement in node.orelse + node.finalbody:
            self.visit(statement)

    visit_TryStar = visit_Try

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            module = alias.name
            self._tensorflow_import(module, node.lineno)
            root = root_of(module)
            if root:
                self._root(root, node.lineno)
            if alias.asname:
                self.aliases[alias.asname] = module
            else:
                head = module.split(".")[0]
                self.aliases[head] = head
            if module == "google.colab" or module.startswith("google.colab."):
                self.facts.colab = True

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        if node.level:
            return
        self._tensorflow_import(module, node.lineno)
        if module.startswith("google.colab") or (
            module == "google" and any(a.name == "colab" for a in node.names)
        ):
            self.facts.colab = True
        for alias in node.names:
            full = f"{module}.{alias.name}"
            self.aliases[alias.asname or alias.name] = full
            root = root_of(module)
            if module in _TENSORFLOW_MODULES and alias.name == "keras":
                root = ATTRIBUTE_ROOT
            if root:
                self._root(root, node.lineno)
            self._hint_name(full, node.lineno)
        self.generic_visit(node)

    def _dotted(self, node: ast.expr) -> str | None:
        parts = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if not isinstance(node, ast.Name) or node.id not in self.aliases:
            return None
        return ".".join([self.aliases[node.id], *reversed(parts)])

    def visit_Attribute(self, node: ast.Attribute) -> None:
        dotted = self._dotted(node)
        if dotted is not None:
            base = node
            while isinstance(base, ast.Attribute):
                base = base.value
            module = self.aliases.get(base.id, "") if isinstance(base, ast.Name) else ""
            if module in _TENSORFLOW_MODULES and dotted.startswith(module + ".keras"):
                self._root(ATTRIBUTE_ROOT, node.lineno)
            self._hint_name(dotted, node.lineno)
            return  # the inner attributes are prefixes of this one
        self.generic_visit(node)

    def _hint_name(self, dotted: str, row: int) -> None:
        parts = dotted.split(".")
        root = root_of(dotted) or (
            ATTRIBUTE_ROOT if dotted.startswith("tensorflow.keras") else None
        )
        if root is None and not dotted.startswith("tensorflow"):
            return
        if "experimental" in parts and "preprocessing" in parts and "layers" in parts:
            self._hint2(
                f"`layers.experimental.preprocessing` ({self.facts.place(row)}; removed in Keras 3)"
            )
        elif "optimizers" in parts and "legacy" in parts[parts.index("optimizers") :]:
            self._hint2(f"`optimizers.legacy` ({self.facts.place(row)}; Keras 2 only)")
        elif parts[-1] == "get_session" and "backend" in parts:
            self._hint2(f"`backend.get_session` ({self.facts.place(row)}; Keras 2 only)")
        elif root == KERAS_ROOT and parts[:4] == [
            "keras",
            "preprocessing",
            "image",
            "ImageDataGenerator",
        ]:
            self._hint2(
                f"`keras.preprocessing.image.ImageDataGenerator` ({self.facts.place(row)}; Keras 2 only)"
            )
        elif root == KERAS_ROOT and len(parts) > 1 and parts[1] in ("ops", "config", "random"):
            self._hint3(f"`keras.{parts[1]}` ({self.facts.place(row)}; Keras 3 only)")

    def _hint2(self, text: str) -> None:
        if text not in self.facts.keras2_hints:
            self.facts.keras2_hints.append(text)

    def _hint3(self, text: str) -> None:
        if text not in self.facts.keras3_hints:
            self.facts.keras3_hints.append(text)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        if name in ("fit_generator", "evaluate_generator", "predict_generator") and isinstance(
            func, ast.Attribute
        ):
            self._hint2(f"`{name}` ({self.facts.place(node.lineno)}; removed in Keras 3)")
        callee = self._dotted(func) or ""
        keras_callee = callee.split(".")[0] in ("keras", "tf_keras", "tensorflow")
        if name in _OPTIMIZERS and keras_callee and any(k.arg == "lr" for k in node.keywords):
            self._hint2(
                f"`{name}(lr=...)` ({self.facts.place(node.lineno)}; Keras 3 accepts only `learning_rate`)"
            )
        if isinstance(func, ast.Attribute) and self._is_environ(func.value):
            if func.attr == "setdefault" and len(node.args) == 2:
                self._environment(node.args[0], node.args[1], node.lineno, only_if_unset=True)
            elif func.attr == "update":
                for arg in node.args:
                    if isinstance(arg, ast.Dict):
                        for key, value in zip(arg.keys, arg.values, strict=False):
                            if key is not None:
                                self._environment(key, value, node.lineno)
                for keyword in node.keywords:
                    if keyword.arg:
                        self._environment(ast.Constant(keyword.arg), keyword.value, node.lineno)
        self.generic_visit(node)

    def visit_Assign(self, node: ast.Assign) -> None:
        for target in node.targets:
            if isinstance(target, ast.Subscript) and self._is_environ(target.value):
                self._environment(target.slice, node.value, node.lineno)
        self.generic_visit(node)

    def _is_environ(self, node: ast.expr) -> bool:
        return self._dotted(node) == "os.environ"

    def _environment(
        self, key: ast.expr, value: ast.expr, row: int, only_if_unset: bool = False
    ) -> None:
        if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
            return
        literal = value.value if isinstance(value, ast.Constant) else None
        if key.value == LEGACY_VARIABLE:
            spelling = (
                f'os.environ.setdefault("{LEGACY_VARIABLE}", "{literal}")'
                if only_if_unset
                else f'os.environ["{LEGACY_VARIABLE}"] = "{literal}"'
            )
            text = (
                f"{spelling} ({self.facts.place(row)})"
                if isinstance(literal, str)
                else f"{LEGACY_VARIABLE} set at {self.facts.place(row)}"
            )
            on = legacy_value(literal) if isinstance(literal, str) else None
            self.facts.legacy.append(LegacyInCode(row, on, text, only_if_unset))
        elif key.value == "KERAS_BACKEND" and literal in ("jax", "torch", "numpy", "openvino"):
            self._hint3(f'KERAS_BACKEND="{literal}" ({self.facts.place(row)}; Keras 3 only)')


def _exception_names(node: ast.expr | None) -> set[str]:
    if node is None:
        return {"Exception"}
    if isinstance(node, ast.Tuple):
        return set().union(*(_exception_names(e) for e in node.elts))
    if isinstance(node, ast.Name):
        return {node.id}
    if isinstance(node, ast.Attribute):
        return {node.attr}
    return set()


def _read_cells(cells: Sequence[str], facts: CodeFacts) -> None:
    """`%env`, `!pip install` and `%pip install` lines of the raw code cells, at the rows the
    joined program gives them (a magic is a `pass` there, one line for one line)."""
    row = 1
    for cell in cells:
        text = cell.replace("\r\n", "\n")
        for match in re.finditer(_ENV_MAGIC, text):
            at = row + text.count("\n", 0, match.start())
            value = match.group(1)
            facts.legacy.append(
                LegacyInCode(
                    at, legacy_value(value), f"%env {LEGACY_VARIABLE}={value} ({facts.place(at)})"
                )
            )
        for match in re.finditer(_BACKEND_MAGIC, text):
            if match.group(1) in ("jax", "torch", "numpy"):
                facts.keras3_hints.append(f"%env KERAS_BACKEND={match.group(1)} (Keras 3 only)")
        if re.match(r"\s*%%(?:bash|sh|script\s+(?:ba)?sh)\b", text):
            shell = text.split("\n", 1)[1] if "\n" in text else ""
        else:
            shell = "\n".join(
                line.lstrip()[1:] if line.lstrip().startswith(("!", "%")) else ""
                for line in text.split("\n")
            )
        for kind, value in pip_install_arguments(shell):
            requirement = parse(value) if kind == "req" else None
            if requirement is not None:
                requirement.text = f"pip install {requirement.text}"
                facts.pip_requirements.append(requirement)
        for line, written in conda_install_requirements(shell):
            requirement = parse(line)
            if requirement is not None:
                requirement.text = f"conda install {written}"
                facts.pip_requirements.append(requirement)
        row += text.count("\n") + (0 if text.endswith("\n") else 1)


# Traceback paths in saved outputs tell which Keras last ran the notebook (RESULTS.md §5.1).
_OUTPUT_KERAS2 = r"[/\\](?:keras[/\\](?:src[/\\])?engine|tf_keras[/\\]src)[/\\]"
_OUTPUT_KERAS3 = r"[/\\]keras[/\\]src[/\\](?:trainers|backend)[/\\]"


def _read_notebook_extras(notebook: dict, facts: CodeFacts) -> None:
    metadata = notebook.get("metadata")
    if isinstance(metadata, dict) and "colab" in metadata:
        facts.colab = True
    cells = notebook.get("cells")
    if not isinstance(cells, list):
        return
    for cell in cells:
        outputs = cell.get("outputs") if isinstance(cell, dict) else None
        if not isinstance(outputs, list):
            continue
        for output in outputs:
            if not isinstance(output, dict):
                continue
            text = output.get("text", "")
            text = "".join(text) if isinstance(text, list) else str(text)
            traceback = output.get("traceback", [])
            if isinstance(traceback, list):
                text += "\n".join(str(t) for t in traceback)
            if re.search(_OUTPUT_KERAS2, text):
                facts.keras2_hints.append("a saved output's traceback runs through Keras 2")
                return
            if re.search(_OUTPUT_KERAS3, text):
                facts.keras3_hints.append("a saved output's traceback runs through Keras 3")
                return
