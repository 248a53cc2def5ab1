"""What the trainable flags are at each event, on every path: the shared flow analysis.

States are followed along the timeline the builder made: a branch keeps both
sides, a loop body is replayed twice (so a change at the end of one epoch meets
the training call at the start of the next), `return` ends its function's
paths at the call site, `raise` ends a path. Each state knows, per object (and
per "BatchNormalization layers of" a model), the flag value and the assignment
that set it, plus per model its last compile and the flags when it first
started after that compile.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field

import immutables

from kerlint.facts.model import Branch, Event, Frame, Loop, Obj, Seq

MAX_STATES = 128
# State transfers one file may cost (a few seconds of work at worst).
WORK_BUDGET = 2_000_000

Key = tuple[int, str]  # (object id, "" for the object itself or "bn" for its BN layers)


@dataclass(frozen=True)
class Flag:
    """A trainable value (None: unknown), the event that set it, and the value before."""

    value: bool | None
    origin: Event | None = None
    prev: bool | None = None


@dataclass(frozen=True)
class Snapshot:
    """The flags of a model's parts at one event: its compile (what Keras 2 trains with) or
    its first start after that compile (what Keras 3 trains with)."""

    event: Event
    flags: tuple[tuple[Key, Flag], ...]

    def flag(self, key: Key) -> Flag | None:
        for k, flag in self.flags:
            if k == key:
                return flag
        return None

    def value(self, key: Key) -> bool | str | None:
        flag = self.flag(key)
        return "absent" if flag is None else flag.value


# A model's first start after its last compile: the flags then (Keras 3's trained set).
Start = Snapshot


_MISSING = object()
_MASK = (1 << 64) - 1


class PMap:
    """An immutable mapping with structural sharing and an O(1) hash.

    Every event makes a new state; with a plain tuple or dict per state, a file of n
    assignments costs n copies of n flags (quadratic time, and memory: the states before
    each event are kept). `immutables.Map` (a HAMT) shares all but O(log n) of each copy;
    the hash is kept up to date on every `set`, so sets of states never rehash a map.
    """

    __slots__ = ("_hash", "_map")

    def __init__(self, mapping: immutables.Map | None = None, hash_: int = 0) -> None:
        self._map = mapping if mapping is not None else immutables.Map()
        self._hash = hash_

    def get(self, key, default=None):
        return self._map.get(key, default)

    def set(self, key, value) -> PMap:
        old = self._map.get(key, _MISSING)
        if old is value:
            return self
        hash_ = self._hash
        if old is not _MISSING:
            hash_ -= hash((key, old))
        return PMap(self._map.set(key, value), (hash_ + hash((key, value))) & _MASK)

    def without(self, keys: Iterable) -> PMap:
        result = self
        for key in keys:
            old = result._map.get(key, _MISSING)
            if old is not _MISSING:
                result = PMap(result._map.delete(key), (result._hash - hash((key, old))) & _MASK)
        return result

    def items(self):
        return self._map.items()

    def keys(self):
        return self._map.keys()

    def __len__(self) -> int:
        return len(self._map)

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if not isinstance(other, PMap):
            return NotImplemented
        return self._hash == other._hash and self._map == other._map


_EMPTY = PMap()


@dataclass(frozen=True)
class State:
    """The flags and compile/start facts on one path (every field a PMap)."""

    flags: PMap = _EMPTY  # Key -> Flag
    compiled: PMap = _EMPTY  # model id -> its last compile event
    started: PMap = _EMPTY  # model id -> its first start after that compile
    built: PMap = _EMPTY  # (optimizer id, model id) -> the start that built the optimizer
    # Per model, the flags at its last compile: Keras 2 trains with these.
    compiled_flags: PMap = _EMPTY

    def flag(self, key: Key, initial: bool | None) -> Flag:
        found = self.flags.get(key)
        return found if found is not None else Flag(initial)

    def start_of(self, model: Obj) -> Start | None:
        return self.started.get(model.id)

    def compile_of(self, model: Obj) -> Event | None:
        return self.compiled.get(model.id)

    def built_for(self, optimizer: Obj, model: Obj) -> Start | None:
        return self.built.get((optimizer.id, model.id))

    def compiled_snapshot(self, model: Obj) -> Snapshot | None:
        """The flags of `model`'s parts at its last compile (Keras 2's trained state)."""
        return self.compiled_flags.get(model.id)

    def replace(self, **changes: PMap) -> State:
        return dataclasses.replace(self, **changes)


@dataclass
class Outcome:
    normal: set[State] = field(default_factory=set)
    returned: set[State] = field(default_factory=set)
    broke: set[State] = field(default_factory=set)
    continued: set[State] = field(default_factory=set)

    def copy(self) -> Outcome:
        return Outcome(set(self.normal), set(self.returned), set(self.broke), set(self.continued))

    def absorb_exits(self, other: Outcome) -> None:
        self.returned |= other.returned
        self.broke |= other.broke
        self.continued |= other.continued


class ObjectGraph:
    """Which objects are parts of which: the containment the flags propagate along."""

    def __init__(self, objects: Iterable[Obj]) -> None:
        self._parts: dict[int, list[Obj]] = {}
        self._owners: dict[int, list[Obj]] = {}
        self.objects = list(objects)
        for obj in self.objects:
            for child in obj.children:
                self._owners.setdefault(child.id, []).append(obj)

    def parts(self, obj: Obj) -> list[Obj]:
        """obj and everything reached through it (children, layers, loop variables)."""
        cached = self._parts.get(obj.id)
        if cached is not None:
            return cached
        seen: dict[int, Obj] = {}
        stack = [obj]
        while stack:
            current = stack.pop()
            if current.id in seen:
                continue
            seen[current.id] = current
            stack.extend(current.children)
        result = list(seen.values())
        self._parts[obj.id] = result
        return result

    def owners(self, obj: Obj) -> list[Obj]:
        """Everything obj is a part of (transitively), nearest first."""
        result: list[Obj] = []
        stack = list(self._owners.get(obj.id, []))
        while stack:
            current = stack.pop(0)
            if current in result or current is obj:
                continue
            result.append(current)
            stack.extend(self._owners.get(current.id, []))
        return result

    def contains_bn(self, obj: Obj) -> bool | None:
        """Yes, no or unknown: does this model or layer hold BatchNormalization layers?"""
        if obj.has_bn is not None:
            return obj.has_bn
        if obj.kind == "layer" and obj.cls and obj.cls.startswith("keras.layers."):
            return False
        if obj.structure in ("sequential", "functional") and obj.cls in (
            "keras.Sequential",
            "keras.Model",
        ):
            verdicts = [self.contains_bn(child) for child in obj.children if child.parent is None]
            if any(verdicts):
                return True
            if verdicts and all(v is False for v in verdicts):
                return False
        return None


def keys_of(obj: Obj, graph: ObjectGraph) -> list[tuple[Key, Obj]]:
    """The flag keys that describe a model's trainable state: each part, and BN of each."""
    keys: list[tuple[Key, Obj]] = []
    for part in graph.parts(obj):
        keys.append(((part.id, ""), part))
        if part.kind == "model" and graph.contains_bn(part):
            keys.append(((part.id, "bn"), part))
    return keys


class Analysis:
    """Runs the states over a timeline and remembers the states before each event."""

    def __init__(self, graph: ObjectGraph, budget: int = WORK_BUDGET) -> None:
        self.graph = graph
        self.before: dict[Event, set[State]] = {}
        self.overflow = False
        # Transfers left: past them the analysis gives up and every flow rule is silent
        # for the file (unknown, never a guess), instead of blowing up in time or memory.
        self.budget = budget
        self.exhausted = False
        self._loops: dict[tuple[int, frozenset[State]], Outcome] = {}

    def run(self, timeline: Seq) -> None:
        if self.exhausted:
            return
        self._run(timeline, {State()})
        if self.exhausted:
            self.before.clear()

    # -- traversal
    def _run(self, node, states: set[State]) -> Outcome:
        if isinstance(node, Event):
            return self._event(node, states)
        if isinstance(node, Seq):
            out = Outcome(normal=states)
            for item in node.items:
                if not out.normal:
                    break
                step = self._run(item, out.normal)
                out.absorb_exits(step)
                out.normal = step.normal
            return out
        if isinstance(node, Branch):
            out = Outcome()
            for alternative in node.alternatives:
                step = self._run(alternative, states)
                out.normal |= step.normal
                out.absorb_exits(step)
            out.normal = self._cap(out.normal)
            return out
        if isinstance(node, Loop):
            return self._loop(node, states)
        if isinstance(node, Frame):
            step = self._run(node.body, states)
            return Outcome(normal=self._cap(step.normal | step.returned))
        return Outcome(normal=states)

    def _loop(self, node: Loop, states: set[State]) -> Outcome:
        """The body twice (an event at its end meets one at its start), once per input.

        A nested loop meets the same states again and again (each outer pass replays it):
        its outcome is remembered per input, so depth costs linear time, not 2^depth; and a
        second pass that starts from the states of the first is not run again.
        """
        memo_key = (id(node), frozenset(states))
        known = self._loops.get(memo_key)
        if known is not None:
            return known.copy()
        out = Outcome()
        entry = set() if node.runs_at_least_once else set(states)
        current = set(states)
        exits: set[State] = set()
        for _ in range(2):
            step = self._run(node.body, current)
            out.returned |= step.returned
            exits |= step.broke
            after = self._cap(step.normal | step.continued)
            entry |= after
            if after == current:
                break
            current = after
        orelse = self._run(node.orelse, self._cap(entry))
        out.returned |= orelse.returned
        out.normal = self._cap(orelse.normal | exits)
        self._loops[memo_key] = out.copy()
        return out

    def _cap(self, states: set[State]) -> set[State]:
        if len(states) <= MAX_STATES:
            return states
        self.overflow = True
        return set(list(states)[:MAX_STATES])

    # -- transfer
    def _event(self, event: Event, states: set[State]) -> Outcome:
        self.budget -= len(states)
        if self.budget < 0:
            self.exhausted = True
            return Outcome()
        self.before.setdefault(event, set()).update(states)
        if event.kind == "return":
            return Outcome(returned=set(states))
        if event.kind == "raise":
            return Outcome()
        if event.kind == "break":
            return Outcome(broke=set(states))
        if event.kind == "continue":
            return Outcome(continued=set(states))
        return Outcome(normal={self.transfer(event, state) for state in states})

    def transfer(self, event: Event, state: State) -> State:
        target = event.target
        if target is None:
            return state
        if event.kind == "assign":
            return self._assign(state, event, target, event.value)
        if event.kind == "havoc":
            state = self._assign(state, event, target, None)
            forget = [part.id for part in self.graph.parts(target)]
            return state.replace(
                compiled=state.compiled.without(forget),
                started=state.started.without(forget),
                compiled_flags=state.compiled_flags.without(forget),
            )
        if event.kind == "compile":
            return state.replace(
                compiled=state.compiled.set(target.id, event),
                started=state.started.without((target.id,)),
                compiled_flags=state.compiled_flags.set(
                    target.id, Snapshot(event, self.snapshot(state, target))
                ),
            )
        if event.kind in ("train", "start"):
            if state.start_of(target) is not None:
                return state
            start = Start(event, self.snapshot(state, target))
            built = state.built
            compile_event = state.compile_of(target)
            if compile_event is not None and compile_event.optimizer is not None:
                key = (compile_event.optimizer.id, target.id)
                if built.get(key) is None:
                    built = built.set(key, start)
            return state.replace(started=state.started.set(target.id, start), built=built)
        return state

    def snapshot(self, state: State, model: Obj) -> tuple[tuple[Key, Flag], ...]:
        return tuple(
            (key, state.flag(key, obj.initially_trainable))
            for key, obj in keys_of(model, self.graph)
        )

    def _assign(self, state: State, event: Event, target: Obj, value: bool | None) -> State:
        flags = state.flags
        guard = event.guard

        def set_key(key: Key, obj: Obj) -> None:
            nonlocal flags
            before = flags.get(key, Flag(obj.initially_trainable)).value
            flags = flags.set(key, Flag(value, event, before))

        touched: list[Obj] = []
        if guard != "bn-only":
            touched.append(target)
            if target.all_layers and target.parent is not None:
                touched.extend(c for c in target.parent.children if c.parent is None)
            for obj in list(touched):
                touched.extend(self.graph.parts(obj))
        seen: set[int] = set()
        for obj in touched:
            if obj.id in seen:
                continue
            seen.add(obj.id)
            set_key((obj.id, ""), obj)
            if guard != "bn-excluded" and obj.kind == "model" and self.graph.contains_bn(obj):
                set_key((obj.id, "bn"), obj)
        owner = (
            target.parent
            if target.parent is not None and "[*]" in (target.selector or "")
            else None
        )
        # A loop over a slice of the layers (`base.layers[:fine_tune_at]`) that freezes them
        # leaves the BatchNormalization layers past the cut as they were: only a loop over
        # every layer, or one that freezes exactly the BN layers of the slice it unfroze
        # (`if isinstance(layer, BatchNormalization)`), freezes them. Unfreezing any but a
        # very small slice reaches some.
        if value is False:
            reaches_bn = target.all_layers or guard == "bn-only"
        else:
            reaches_bn = not target.small_slice
        if (
            owner is not None
            and guard != "bn-excluded"
            and reaches_bn
            and self.graph.contains_bn(owner)
        ):
            set_key((owner.id, "bn"), owner)
        return state.replace(flags=flags)
