"""What the model-definition rules (KL101-KL111) share: the compiles that train, their
prefilter, how messages name heads and losses, and the code edits their fixes make."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

from kerlint.facts import FileFacts
from kerlint.facts.heads import CompileFacts, Head
from kerlint.fixgen import ancestors, keras_name
from kerlint.rules.base import FixSpec, Replacement

# A file must compile and train a model for these rules to matter. Their own words
# (`softmax`, `from_logits`, ...) are not asked for: the head and the loss may be built in
# another module of the project, and one file must pass the test on its own.
TRAINS = re.compile(r"\.\s*(?:fit|train_on_batch|fit_generator)\s*\(")
REQUIRES = ("compile",)
FAMILY = "Model definition"

LOSS_CLASSES = {
    ("categorical", False): "CategoricalCrossentropy",
    ("categorical", True): "CategoricalFocalCrossentropy",
    ("sparse", False): "SparseCategoricalCrossentropy",
    ("binary", False): "BinaryCrossentropy",
    ("binary", True): "BinaryFocalCrossentropy",
}


def trained_compiles(facts: FileFacts) -> Iterator[CompileFacts]:
    """Each compile whose model is trained after it (and before it is compiled again)."""
    for compiled in facts.facts.heads.compiles():
        if compiled.trained is not None:
            yield compiled


def head_text(facts: FileFacts, head: Head) -> str:
    """`Dense(10, activation="softmax")` at line 12: the layer as written, shortened."""
    code = facts.code(head.layer).splitlines()[0]
    if len(code) > 60:
        code = code[:57] + "..."
    return f"`{code}` ({facts.at(head.layer)})"


def model_name(facts: FileFacts, compiled: CompileFacts) -> str:
    node = compiled.event.node
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        return facts.code(node.func.value)
    return compiled.model.describe()


def loss_class(facts: FileFacts, kind: str, focal: bool) -> tuple[str, str | None]:
    """(class name, how this module spells it) of the crossentropy class of a loss kind."""
    name = LOSS_CLASSES[(kind, focal)]
    return name, keras_name(facts, f"keras.losses.{name}")


def with_keyword(facts: FileFacts, node: ast.Call, keyword: str, value: str) -> str | None:
    """The call's code with `keyword=value` set (replaced, or added at the end); None when
    it cannot be written (LibCST cannot read the file). Written from the text where that is
    plain (importing and running LibCST costs more than the rest of a file's check)."""
    by_text = _with_keyword_by_text(facts, node, keyword, value)
    if by_text is not None:
        return by_text
    import libcst as cst

    call = facts.cst(node)
    if not isinstance(call, cst.Call):
        return None
    new_value = cst.parse_expression(value)
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == keyword:
            args = [a.with_changes(value=new_value) if a is arg else a for a in call.args]
            return cst.Module([]).code_for_node(call.with_changes(args=args))
    equal = cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace(""))
    added = cst.Arg(value=new_value, keyword=cst.Name(keyword), equal=equal)
    args = list(call.args)
    if args:
        last = args[-1]
        if last.comma is cst.MaybeSentinel.DEFAULT:
            args[-1] = last.with_changes(
                comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
            )
    return cst.Module([]).code_for_node(call.with_changes(args=[*args, added]))


def _with_keyword_by_text(facts: FileFacts, node: ast.Call, keyword: str, value: str) -> str | None:
    """`with_keyword` on the call's own text, or None where that is not plain: another
    module's call, or anything but blanks, comments and one comma after the last argument."""
    if not facts.is_here(node):
        return None
    code = facts.source.segment(node)
    if code is None or not code.endswith(")"):
        return None
    start = facts.source.span(node).start

    def index(inner: ast.AST, end: bool = False) -> int:
        """Where a node inside the call starts (or ends) in `code`."""
        span = facts.source.span(inner)
        line, column = (
            (span.end.line, span.end.column) if end else (span.start.line, span.start.column)
        )
        if line == start.line:
            return column - start.column
        rows = facts.source.rows
        before = len(rows[start.line - 1]) - start.column
        return before + sum(len(row) for row in rows[start.line : line - 1]) + column

    for given in node.keywords:
        if given.arg == keyword:
            first, last = index(given.value), index(given.value, end=True)
            return code[:first] + value + code[last:]
    parts: list[ast.AST] = [*node.args, *node.keywords]
    after = (
        index(max(parts, key=lambda n: (n.end_lineno, n.end_col_offset)), end=True)
        if parts
        else None
    )
    if after is None:
        after = index(node.func, end=True)
        opening = _blank(code[after:-1])
        if opening != "(":
            return None
        at = code.index("(", after) + 1
        return code[:at] + f"{keyword}={value}" + code[at:]
    rest = _blank(code[after:-1])
    if rest == "":
        return code[:after] + f", {keyword}={value}" + code[after:]
    if rest == ",":
        at = code.index(",", after) + 1
        return code[:at] + f" {keyword}={value}" + code[at:]
    return None


def _blank(text: str) -> str:
    """The text without its blanks and comments (of text that holds no string)."""
    return "".join(re.sub(r"#[^\n]*", "", text).split())


def without_arg(facts: FileFacts, node: ast.Call, given: ast.keyword) -> str | None:
    """The call's code without one of its arguments (None: it cannot be written)."""
    import libcst as cst

    call, arg = facts.cst(node), facts.cst(given)
    if not isinstance(call, cst.Call) or arg is None:
        return None
    args = [a for a in call.args if a is not arg]
    if args and call.args[-1] is arg:
        args[-1] = args[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
    return cst.Module([]).code_for_node(call.with_changes(args=args))


def removal(facts: FileFacts, layer: ast.AST) -> tuple[Replacement, ...] | None:
    """The edits that delete a layer from a model, or None.

    An element of a `Sequential([...])` list goes from the list with its comma (comments
    stay); a layer applied to one tensor in a functional model (`Activation("softmax")(x)`)
    becomes that tensor."""
    import libcst as cst

    layer_call = facts.cst(layer)
    if layer_call is None:
        return None
    chain = list(ancestors(facts, layer_call))
    parent = chain[0] if chain else None
    if isinstance(parent, cst.Element) and len(chain) > 1 and isinstance(chain[1], cst.List):
        elements = list(chain[1].elements)
        if len(elements) < 2:
            return None
        edits = [Replacement(parent.value, "")]
        if isinstance(parent.comma, cst.Comma):
            edits.append(Replacement(parent.comma, ""))
        else:  # the last element, without a comma: the one before gives up its comma
            before = elements[elements.index(parent) - 1]
            if not isinstance(before.comma, cst.Comma):
                return None
            edits.append(Replacement(before.comma, ""))
        return tuple(edits)
    if (
        isinstance(parent, cst.Call)
        and parent.func is layer_call
        and len(parent.args) == 1
        and parent.args[0].keyword is None
        and not parent.args[0].star
    ):
        return (Replacement(parent, facts.code(parent.args[0].value)),)
    return None


def function_removal(facts: FileFacts, call: ast.AST) -> tuple[Replacement, ...] | None:
    """`tf.nn.softmax(x)` -> `x`."""
    if (
        isinstance(call, ast.Call)
        and len(call.args) == 1
        and not isinstance(call.args[0], ast.Starred)
        and all(k.arg == "axis" for k in call.keywords)
    ):
        return (Replacement(call, facts.code(call.args[0])),)
    return None


# keras.applications: the module each constructor lives in, and how its `preprocess_input`
# scales pixels (measured, model-semantics RESULTS.md §3.14).
PREPROCESS_MODES = {
    "resnet50": "caffe", "resnet": "caffe", "vgg16": "caffe", "vgg19": "caffe",
    "resnet_v2": "tf", "inception_v3": "tf", "inception_resnet_v2": "tf", "xception": "tf",
    "mobilenet": "tf", "mobilenet_v2": "tf", "nasnet": "tf",
    "densenet": "torch",
    "efficientnet": "none", "efficientnet_v2": "none", "convnext": "none", "mobilenet_v3": "none",
}  # fmt: skip
MODE_TEXT = {
    "caffe": "BGR with the ImageNet mean subtracted (about -124..151)",
    "tf": "scaled to [-1, 1]",
    "torch": "scaled to [0, 1] and standardised",
    "none": "left as 0..255 pixels (the model rescales them itself)",
}


def application_module(leaf: str) -> str | None:
    """`resnet50` for ResNet50, `efficientnet_v2` for EfficientNetV2B0, ..."""
    exact = {
        "ResNet50": "resnet50", "ResNet101": "resnet", "ResNet152": "resnet",
        "ResNet50V2": "resnet_v2", "ResNet101V2": "resnet_v2", "ResNet152V2": "resnet_v2",
        "VGG16": "vgg16", "VGG19": "vgg19", "InceptionV3": "inception_v3",
        "InceptionResNetV2": "inception_resnet_v2", "Xception": "xception",
        "MobileNet": "mobilenet", "MobileNetV2": "mobilenet_v2",
        "MobileNetV3Small": "mobilenet_v3", "MobileNetV3Large": "mobilenet_v3",
    }  # fmt: skip
    if leaf in exact:
        return exact[leaf]
    for prefix, module in (
        ("EfficientNetV2", "efficientnet_v2"),
        ("EfficientNetB", "efficientnet"),
        ("ConvNeXt", "convnext"),
        ("DenseNet", "densenet"),
        ("NASNet", "nasnet"),
    ):
        if leaf.startswith(prefix):
            return module
    return None


def keyword_literal(call: ast.AST | None, keyword: str) -> object:
    """The literal value of `keyword=` in a call: MISSING when absent, UNKNOWN when not literal."""
    if not isinstance(call, ast.Call):
        return UNKNOWN
    for given in call.keywords:
        if given.arg == keyword:
            value = given.value
            if isinstance(value, ast.Constant) and not isinstance(value.value, bytes):
                return value.value
            return UNKNOWN
        if given.arg is None:
            return UNKNOWN
    if any(isinstance(a, ast.Starred) for a in call.args):
        return UNKNOWN
    return MISSING


MISSING = object()
UNKNOWN = object()


def pretrained(call: ast.AST | None) -> bool:
    """An application built with its ImageNet weights (the default)."""
    weights = keyword_literal(call, "weights")
    return weights is MISSING or weights == "imagenet"


def trained_models(facts: FileFacts) -> set[int]:
    """Ids of every object that is part of a model trained after a compile."""
    found: set[int] = set()
    for compiled in trained_compiles(facts):
        found.update(part.id for part in facts.graph.parts(compiled.model))
    return found


def local_fix(facts: FileFacts, fix: FixSpec | None) -> FixSpec | None:
    """The fix, when every node it edits is in this file (a head or a loss may have been
    built in another module of the project: the fix is then left to that file)."""
    if fix is None:
        return None
    for replacement in fix.replacements:
        if facts.site_of(replacement.old) is not None or facts.line(replacement.old) == 0:
            return None
    return fix
