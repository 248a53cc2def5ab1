"""What the model-definition rules (KL101-KL111) share: the compiles that train, their
prefilter, how messages name heads and losses, and the code edits their fixes make."""

from __future__ import annotations

import re
from collections.abc import Iterator

import libcst as cst

from kerlint.facts import FileFacts
from kerlint.facts.heads import CompileFacts, Head
from kerlint.fixgen import ancestors, keras_name

# A file must compile and train a model for these rules to matter.
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


def pattern(*words: str) -> re.Pattern[str]:
    """The rule's own words and a training call, in either order."""
    either = "|".join(words)
    return re.compile(rf"(?s)(?:{either}).*{TRAINS.pattern}|{TRAINS.pattern}.*(?:{either})")


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
    if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute):
        return facts.code(node.func.value)
    return compiled.model.describe()


def loss_class(facts: FileFacts, kind: str, focal: bool) -> tuple[str, str | None]:
    """(class name, how this module spells it) of the crossentropy class of a loss kind."""
    name = LOSS_CLASSES[(kind, focal)]
    return name, keras_name(facts, f"keras.losses.{name}")


def with_keyword(call: cst.Call, keyword: str, value: str) -> str:
    """The call's code with `keyword=value` set (replaced, or added at the end)."""
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


def without_arg(call: cst.Call, arg: cst.Arg) -> str:
    """The call's code without one of its arguments."""
    args = [a for a in call.args if a is not arg]
    if args and call.args[-1] is arg:
        args[-1] = args[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
    return cst.Module([]).code_for_node(call.with_changes(args=args))


def removal(facts: FileFacts, layer_call: cst.CSTNode) -> tuple[cst.CSTNode, str] | None:
    """How to delete a layer from a model: (node to replace, its new code), or None.

    An element of a `Sequential([...])` list goes from the list; a layer applied to one
    tensor in a functional model (`Activation("softmax")(x)`) becomes that tensor."""
    chain = list(ancestors(facts, layer_call))
    parent = chain[0] if chain else None
    if isinstance(parent, cst.Element) and len(chain) > 1 and isinstance(chain[1], cst.List):
        lst = chain[1]
        elements = [e for e in lst.elements if e is not parent]
        if not elements:
            return None
        if lst.elements[-1] is parent:
            elements[-1] = elements[-1].with_changes(comma=parent.comma)
        return lst, cst.Module([]).code_for_node(lst.with_changes(elements=elements))
    if (
        isinstance(parent, cst.Call)
        and parent.func is layer_call
        and len(parent.args) == 1
        and parent.args[0].keyword is None
        and not parent.args[0].star
    ):
        return parent, facts.code(parent.args[0].value)
    return None


def function_removal(facts: FileFacts, call: cst.CSTNode) -> tuple[cst.CSTNode, str] | None:
    """`tf.nn.softmax(x)` -> `x`."""
    if (
        isinstance(call, cst.Call)
        and call.args
        and call.args[0].keyword is None
        and all(a.keyword is not None and a.keyword.value == "axis" for a in call.args[1:])
    ):
        return call, facts.code(call.args[0].value)
    return None


def keras_assumed(facts: FileFacts) -> str:
    """How a message names the Keras it judged the code by."""
    return f"assuming {facts.mode.describe()}"
