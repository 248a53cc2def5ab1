"""The child process of `kerlint verify`: imports keras, builds targets, reports on them.

Run as `python -m kerlint.verify.child REQUEST EVENTS`. REQUEST is a JSON file written by
`runner.py`; EVENTS is a file this process appends JSON lines to, one event each:

    {"event": "ready", ...}                  keras imported and hooks installed
    {"event": "fatal", "kind": ..., ...}     nothing can be built (keras missing, ...)
    {"event": "start", "id": N}              building target N
    {"event": "result", "id": N, "report"}   target N built and analysed
    {"event": "error", "id": N, ...}         target N raised or exited
    {"event": "done"}

A target that crashes or hangs the process leaves a "start" with no answer: the parent
reports it, kills the process if needed and starts a new child for the targets left. Stdout
and stderr belong to user code (and keras' chatter); the parent keeps them as a log.

Inside the child, `.trainable` assignments, `compile()` and the training calls are hooked.
Training calls are skipped (verify builds, it never trains), `keras.applications`
constructors get `weights=None` unless asked to keep them, and the network is blocked then:
pretrained values never change which weights train.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import importlib.abc
import importlib.util
import inspect
import json
import os
import socket
import sys
import threading
import time
import traceback
import warnings
import zipfile
from pathlib import Path
from types import ModuleType
from typing import Any

from kerlint.verify.analysis import Analysis, Assignment, ModelEvent, Recording, Site
from kerlint.verify.processes import PARENT_VARIABLE, die_with_parent

NETWORK_MARKER = "network access blocked by kerlint verify"
_LOOPBACK = {None, "", "localhost", "127.0.0.1", "::1", "0.0.0.0"}
_HERE = str(Path(__file__).resolve().parent)
# A `.keras` archive's config.json (and metadata.json) is read whole into memory by keras;
# a real one is a few MB even for thousands of layers (10,000 Dense layers: about 9 MB).
MAX_CONFIG_BYTES = 64 * 1024 * 1024
# keras builds graphs recursively (`function.py::_build_map_helper`, one level per layer):
# targets run in a thread with a big stack and a high recursion limit.
RECURSION_LIMIT = 200_000
BUILD_STACK_BYTES = 512 * 1024 * 1024
# Warnings that say nothing about the user's model (RESULTS.md, "Noise I filtered out").
_NOISE = (
    "__array__ implementation doesn't accept a copy keyword",
    "triggered tf.function retracing",
)


class Events:
    """Appends one JSON object per line to the events file, flushed at once."""

    def __init__(self, path: str) -> None:
        self._file = open(path, "a", encoding="utf-8")  # noqa: SIM115 (lives as long as the process)

    def send(self, **event: Any) -> None:
        self._file.write(json.dumps(event, default=str) + "\n")
        self._file.flush()


def _user_site(skip: tuple[str, ...]) -> Site | None:
    """The innermost frame outside keras and kerlint: the user line that triggered a hook."""
    frame = sys._getframe(2)
    while frame is not None:
        filename = frame.f_code.co_filename
        if not filename.startswith(skip) and not filename.startswith("<frozen"):
            return Site(filename, frame.f_lineno)
        frame = frame.f_back
    return None


class Hooks:
    """Records what user code does to the model while a target is being built."""

    def __init__(self, keras: Any) -> None:
        self.keras = keras
        self.recording = Recording()
        self._seq = 0
        self.keras_dir = str(Path(keras.__file__).resolve().parent)
        self._skip = (self.keras_dir, _HERE, *_framework_dirs(keras))

    def next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def reset(self) -> Recording:
        """Start a new recording for the next target (and drop references to old models)."""
        self.recording = Recording()
        return self.recording

    def note(self, text: str) -> None:
        if text not in self.recording.notes:
            self.recording.notes.append(text)

    # -- trainable assignments ------------------------------------------------------------

    def install_trainable_hook(self) -> None:
        """Wrap `Layer.trainable`'s setter to record assignments written in user code.

        Keras propagates an assignment to every sublayer through the same setter; those
        calls come from keras' own file and are not recorded, so what is recorded is what
        the user wrote.
        """
        layer_cls = self.keras.layers.Layer
        original = layer_cls.trainable
        hooks = self

        def fset(layer: Any, value: Any) -> None:
            # `layer.trainable = v` reaches the setter through `__setattr__` overrides
            # (keras' tracking, TF's AutoTrackable); the frame above them wrote it.
            frame = sys._getframe(1)
            while frame is not None and frame.f_code.co_name == "__setattr__":
                frame = frame.f_back
            if frame is not None and not frame.f_code.co_filename.startswith(hooks._skip):
                site = Site(frame.f_code.co_filename, frame.f_lineno)
                hooks.recording.assignments.append(
                    Assignment(hooks.next_seq(), layer, bool(value), site)
                )
            original.fset(layer, value)

        layer_cls.trainable = property(original.fget, fset, original.fdel, original.__doc__)

    # -- compile and training ---------------------------------------------------------------

    def model_event(self, model: Any, kind: str, loss: Any = None, metrics: Any = None) -> None:
        built = bool(getattr(model, "built", False))
        try:
            trainable = model.trainable_weights if built else []
        except ValueError:  # tf_keras: built, but its weights are not created yet
            built, trainable = False, []
        self.recording.events.append(
            ModelEvent(
                seq=self.next_seq(),
                model=model,
                kind=kind,
                site=_user_site(self._skip),
                trainable_ids=frozenset(id(v) for v in trainable) if built else None,
                trainable_count=len(trainable),
                weight_count=len(model.weights) if built else 0,
                loss=loss,
                metrics=metrics,
            )
        )

    def install_model_hooks(self) -> None:
        """Record `compile()`; record and skip `fit`, `train_on_batch`, `evaluate`, ...

        Training would be slow, needs data, and is not implemented on the numpy backend;
        what matters is the trainable set at the moment training would start.
        """
        model_cls = self.keras.Model
        hooks = self
        original_compile = model_cls.compile

        try:
            compile_signature: inspect.Signature | None = inspect.signature(original_compile)
        except (TypeError, ValueError):  # pragma: no cover - a C-level compile
            compile_signature = None

        @functools.wraps(original_compile)
        def compile(model: Any, *args: Any, **kwargs: Any) -> Any:
            loss = metrics = None
            if compile_signature is not None:
                try:
                    bound = compile_signature.bind_partial(model, *args, **kwargs).arguments
                    loss, metrics = bound.get("loss"), bound.get("metrics")
                except TypeError:
                    pass  # compile() itself will say what is wrong
            hooks.model_event(model, "compile", loss, metrics)
            return original_compile(model, *args, **kwargs)

        model_cls.compile = compile
        history_cls = self.keras.callbacks.History

        def make_stub(kind: str) -> Any:
            def stub(model: Any, *args: Any, **kwargs: Any) -> Any:
                hooks.model_event(model, kind)
                if kind == "fit":
                    history = history_cls()
                    history.set_model(model)
                    history.history, history.epoch, history.params = {}, [], {}
                    return history
                if kwargs.get("return_dict"):
                    return {}
                return 0.0

            stub.__name__ = kind
            stub.__doc__ = f"Skipped by kerlint verify: records the trainable set, does not {kind}."
            return stub

        for kind in ("fit", "train_on_batch", "evaluate", "test_on_batch"):
            setattr(model_cls, kind, make_stub(kind))

    # -- pretrained weights and the network ----------------------------------------------

    def install_applications_patch(self) -> None:
        """Make every `keras.applications` constructor build with `weights=None`.

        The constructors are functions re-exported by several public modules, so the
        wrapper replaces the function in each module that holds it (and in the defining
        module, from which modules imported later re-export it).
        """
        originals: dict[int, Any] = {}
        for name, module in list(sys.modules.items()):
            if not name.startswith(f"{self.keras.__name__}.src.applications.") or module is None:
                continue
            for attr, obj in list(vars(module).items()):
                if (
                    inspect.isfunction(obj)
                    and attr[:1].isupper()
                    and obj.__module__ == name
                    and "weights" in inspect.signature(obj).parameters
                ):
                    originals[id(obj)] = self._weightless(obj)
        for name, module in list(sys.modules.items()):
            if (
                module is None
                or not name.startswith(self.keras.__name__)
                or "applications" not in name
            ):
                continue
            for attr, obj in list(vars(module).items()):
                wrapper = originals.get(id(obj))
                if wrapper is not None:
                    setattr(module, attr, wrapper)

    def _weightless(self, fn: Any) -> Any:
        signature = inspect.signature(fn)
        hooks = self

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            bound = signature.bind(*args, **kwargs)
            weights = bound.arguments.get("weights", signature.parameters["weights"].default)
            if weights is not None:
                bound.arguments["weights"] = None
                hooks.note(
                    f"keras.applications.{fn.__name__} was built with weights=None instead of "
                    f"{weights!r}: pretrained values do not change which weights train "
                    "(--weights keep loads them)."
                )
            return fn(*bound.args, **bound.kwargs)

        wrapper.__kerlint_original__ = fn  # type: ignore[attr-defined]
        return wrapper


def block_network() -> None:
    """Fail fast, instead of hanging or downloading, when a target reaches for the network."""
    real_getaddrinfo = socket.getaddrinfo
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def refuse(host: Any) -> OSError:
        return OSError(f"{NETWORK_MARKER} (to {host!r}); --weights keep allows downloads")

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host in _LOOPBACK:
            return real_getaddrinfo(host, *args, **kwargs)
        raise refuse(host)

    def remote(sock: socket.socket, address: Any) -> bool:
        return is_remote(sock.family, address)

    def connect(sock: socket.socket, address: Any) -> None:
        if remote(sock, address):
            raise refuse(address[0])
        real_connect(sock, address)

    def connect_ex(sock: socket.socket, address: Any) -> int:
        if remote(sock, address):
            raise refuse(address[0])
        return real_connect_ex(sock, address)

    real_sendto = socket.socket.sendto
    real_sendmsg = socket.socket.sendmsg

    def sendto(sock: socket.socket, data: Any, *args: Any) -> int:
        address = args[-1] if args else None
        if remote(sock, address):
            raise refuse(address[0])
        return real_sendto(sock, data, *args)

    def sendmsg(sock: socket.socket, buffers: Any, *args: Any) -> int:
        address = args[2] if len(args) > 2 else None
        if address is not None and remote(sock, address):
            raise refuse(address[0])
        return real_sendmsg(sock, buffers, *args)

    socket.getaddrinfo = getaddrinfo  # type: ignore[assignment]
    socket.socket.connect = connect  # type: ignore[method-assign]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]
    socket.socket.sendto = sendto  # type: ignore[method-assign]
    socket.socket.sendmsg = sendmsg  # type: ignore[method-assign]


def is_remote(family: int, address: Any) -> bool:
    """An AF_INET/AF_INET6 address that is not loopback (what the socket hooks refuse)."""
    return (
        family in (socket.AF_INET, socket.AF_INET6)
        and isinstance(address, tuple)
        and bool(address)
        and address[0] not in _LOOPBACK
    )


# -- loading targets ------------------------------------------------------------------------


def import_file(path: Path) -> ModuleType:
    """Import a .py file as its package module when it is in one, else on its own.

    Importing it under its package name keeps its relative imports working; either way it
    is not `__main__`, so an `if __name__ == "__main__":` block does not run.
    """
    path = path.resolve()
    parts = [path.stem]
    directory = path.parent
    while (directory / "__init__.py").is_file():
        parts.insert(0, directory.name)
        directory = directory.parent
    if len(parts) > 1 and all(p.isidentifier() for p in parts):
        if str(directory) not in sys.path:
            sys.path.insert(0, str(directory))
        return importlib.import_module(".".join(parts))
    if str(path.parent) not in sys.path:
        sys.path.insert(0, str(path.parent))
    name = path.stem
    existing = sys.modules.get(name)
    if existing is not None:
        existing_file = getattr(existing, "__file__", None)
        if existing_file and Path(existing_file).resolve() == path:
            return existing
    if not name.isidentifier() or existing is not None:
        name = f"_kerlint_target_{abs(hash(str(path)))}"
        if name in sys.modules:
            return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


class TargetError(Exception):
    """A target that cannot be built, with a message meant for the user as it is."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def load_factory(target: dict[str, Any]) -> Any:
    if target["kind"] == "file":
        module = import_file(Path(target["path"]))
        where = target["path"]
    else:
        module = importlib.import_module(target["module"])
        where = f"module {target['module']}"
    obj: Any = module
    for part in target["function"].split("."):
        if not hasattr(obj, part):
            raise TargetError("not_found", f"{where} has no attribute {target['function']!r}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise TargetError("not_callable", f"{target['function']!r} in {where} is not callable")
    return obj


def definition_site(func: Any) -> Site | None:
    """The `def` (or `class`) line of a factory, after any decorators: where findings point."""
    while isinstance(func, functools.partial):
        func = func.func
    func = inspect.unwrap(func)
    if inspect.isclass(func):
        with contextlib.suppress(OSError, TypeError):
            lines, start = inspect.getsourcelines(func)
            offset = next((i for i, t in enumerate(lines) if t.lstrip().startswith("class ")), 0)
            return Site(inspect.getsourcefile(func) or "<unknown>", start + offset)
        return None
    code = getattr(func, "__code__", None)
    if code is None:
        return None
    line = code.co_firstlineno
    with contextlib.suppress(OSError, TypeError):
        lines, start = inspect.getsourcelines(func)
        for offset, text in enumerate(lines):
            if text.lstrip().startswith(("def ", "async def ")):
                line = start + offset
                break
    return Site(code.co_filename, line)


def check_archive(path: str, limit: int = MAX_CONFIG_BYTES) -> None:
    """Refuse a `.keras` archive whose config.json or metadata.json is implausibly large.

    keras reads them whole (and parses the JSON) before building anything; the sizes are
    the uncompressed ones the archive declares, which `zipfile` never reads past.
    """
    if not zipfile.is_zipfile(path):
        return  # an .h5 file, or not an archive: keras says what it is
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            if info.filename in ("config.json", "metadata.json") and info.file_size > limit:
                raise TargetError(
                    "load_failed",
                    f"cannot load {path}: its {info.filename} is {info.file_size:,} bytes, more "
                    f"than the {limit // (1024 * 1024)} MiB a model's configuration needs; "
                    "kerlint verify does not load it",
                )


def _pick_model(value: Any, keras: Any) -> tuple[Any, str | None]:
    """The model a factory returned (the first one, if it returned a tuple or list)."""
    if isinstance(value, keras.layers.Layer):
        return value, None
    if isinstance(value, (tuple, list)):
        for i, item in enumerate(value):
            if isinstance(item, keras.layers.Layer):
                return item, f"the factory returned a {type(value).__name__}; verifying item {i}"
    return None, None


def _roots(models: list[Any]) -> list[Any]:
    """Drop the models that are nested inside another one of the list."""
    unique = list({id(m): m for m in models}.values())
    nested: set[int] = set()
    for m in unique:
        nested.update(id(layer) for layer in m._flatten_layers(include_self=False))
    return [m for m in unique if id(m) not in nested]


def _site_dict(site: Site | None) -> dict[str, Any] | None:
    return None if site is None else {"file": site.file, "line": site.line, "column": site.column}


def build_target(
    target: dict[str, Any], request: dict[str, Any], keras: Any, hooks: Hooks
) -> dict[str, Any]:
    """Build one target, analyse its model(s) and return the JSON-able report."""
    recording = hooks.reset()
    def_site: Site | None = None
    started = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if target["kind"] == "saved":
            path = target["path"]
            def_site = Site(path, 1)
            check_archive(path)
            load_model = getattr(getattr(keras, "saving", None), "load_model", None)
            load_model = load_model or keras.models.load_model
            try:
                value = load_model(path, compile=False)
            except Exception as exc:
                raise TargetError(
                    "load_failed", f"cannot load {path}: {type(exc).__name__}: {exc}"
                ) from exc
        else:
            factory = load_factory(target)
            def_site = definition_site(factory)
            value = factory(**target.get("kwargs", {}))
    build_seconds = time.perf_counter() - started

    model, picked = _pick_model(value, keras)
    if picked:
        hooks.note(picked)
    if model is not None:
        models = [model]
    elif request.get("mode") == "confirm":
        models = _roots([e.model for e in recording.events])
        if value is not None:
            hooks.note(f"the function returned a {type(value).__name__}, not a model")
    else:
        raise TargetError(
            "not_a_model",
            f"the factory returned {type(value).__name__}"
            + ("" if value is None else f" ({_short_repr(value)})")
            + ", not a keras model",
        )

    reports = []
    for m in models:
        if not getattr(m, "built", True):
            hooks.note(
                f"`{m.name}` is not built (no input shape yet): its weights do not exist, so "
                "every count is 0; give it an Input or call build() in the factory"
            )
        analysis = Analysis(m, keras, recording, def_site)
        reports.append(
            {
                "model": {
                    "name": m.name,
                    "class": type(m).__name__,
                    "trainable": bool(m.trainable),
                },
                "layers": analysis.rows(),
                "totals": analysis.totals(),
                "findings": analysis.findings(),
                "head": _head_json(analysis),
            }
        )

    graph = None
    if target.get("graph") and models:
        graph = draw(models[0], target["graph"], keras)
    return {
        "keras": {"name": keras.__name__, "version": keras.__version__},
        "def_site": _site_dict(def_site),
        "build_seconds": round(build_seconds, 4),
        "models": reports,
        "notes": list(recording.notes),
        "warnings": _warnings(caught),
        "calls": [
            {
                "model": e.model.name,
                "kind": e.kind,
                "site": _site_dict(e.site),
                "trainable_weights": e.trainable_count,
                "weights": e.weight_count,
            }
            for e in recording.events
        ],
        "graph": graph,
    }


# Past this many layers in all, nested models are drawn folded (one box each).
GRAPH_MAX_EXPANDED = 80
# Graphviz's bitmap renderer scales down anything taller than 32,767 pixels; plot_model's
# boxes (show_trainable, 200 dpi) take about 220 pixels a layer, ranks included.
PNG_MAX_PIXELS = 32_767
PNG_PIXELS_PER_LAYER = 220


def draw(model: Any, path: str, keras: Any) -> dict[str, Any]:
    """Draw the model readably: fold nested models in a big one, SVG for a too-tall PNG."""
    all_layers = [layer for layer in model._flatten_layers(include_self=False, recursive=True)]
    nested = any(isinstance(layer, keras.Model) for layer in model.layers)
    expand = not nested or len(all_layers) <= GRAPH_MAX_EXPANDED
    notes = []
    if not expand:
        notes.append(
            f"nested models are drawn folded: {len(all_layers)} layers in all would not be readable"
        )
    drawn = len(all_layers) if expand else len(model.layers)
    if path.lower().endswith(".png") and drawn * PNG_PIXELS_PER_LAYER > PNG_MAX_PIXELS:
        path = str(Path(path).with_suffix(".svg"))
        notes.append(
            f"drawn as SVG: a PNG of {drawn} layers would pass Graphviz's {PNG_MAX_PIXELS:,}-pixel limit"
        )
    graph: dict[str, Any] = {"path": path, "error": None, "note": "; ".join(notes) or None}
    try:
        keras.utils.plot_model(
            model,
            to_file=path,
            show_trainable=True,
            show_layer_names=True,
            expand_nested=expand,
        )
    except Exception as exc:
        graph["error"] = f"{type(exc).__name__}: {exc}"
    return graph


def _head_json(analysis: Analysis) -> dict[str, Any] | None:
    try:
        head = analysis.head()
    except Exception:
        return None
    return None if head is None else head.as_json()


def _short_repr(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _warnings(caught: list[warnings.WarningMessage]) -> list[str]:
    out: list[str] = []
    for w in caught:
        if issubclass(w.category, (DeprecationWarning, PendingDeprecationWarning)):
            continue
        text = f"{w.category.__name__}: {w.message}"
        if any(noise in text for noise in _NOISE) or text in out:
            continue
        out.append(text)
    return out[:20]


def _user_traceback(exc: BaseException) -> str:
    """The traceback without kerlint's own frames on top: it starts in the user's code."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename.startswith(_HERE):
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb))


def _format_exception(exc: BaseException) -> tuple[str, str]:
    message = f"{type(exc).__name__}: {exc}"
    tb = _user_traceback(exc)
    if NETWORK_MARKER in tb and NETWORK_MARKER not in message:
        message += f" ({NETWORK_MARKER}: pretrained weights are not needed to count what trains; --weights keep allows downloads)"
    return message, tb


def _exit_message(exc: SystemExit) -> str:
    """`sys.exit(3)` in the user's code, and the line that called it."""
    tb, where = exc.__traceback__, ""
    while tb is not None:
        if not tb.tb_frame.f_code.co_filename.startswith(_HERE):
            where = f" at {tb.tb_frame.f_code.co_filename}:{tb.tb_lineno}"
        tb = tb.tb_next
    return f"the target called sys.exit({exc.code!r}){where}"


# -- the process -----------------------------------------------------------------------------


def _framework_dirs(keras: Any) -> tuple[str, ...]:
    """tensorflow's package directory when keras is tf_keras (its tracking wraps setattr)."""
    if keras.__name__ != "tf_keras":
        return ()
    tf = sys.modules.get("tensorflow")
    tf_file = getattr(tf, "__file__", None)
    return (str(Path(tf_file).resolve().parent),) if tf_file else ()


def _import_keras(events: Events, name: str = "keras") -> Any | None:
    """`import keras`, or `import tf_keras as keras` for a Keras 2 project."""
    backend = "tensorflow" if name == "tf_keras" else os.environ.get("KERAS_BACKEND", "")
    try:
        keras = importlib.import_module(name)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        kind = "keras_missing" if missing == name else "backend_missing"
        events.send(
            event="fatal",
            kind=kind,
            module=missing,
            backend=backend,
            message=str(exc),
            traceback=traceback.format_exc(),
        )
        return None
    except Exception as exc:
        events.send(
            event="fatal",
            kind="import_error",
            backend=backend,
            message=f"{type(exc).__name__}: {exc}",
            traceback=traceback.format_exc(),
        )
        return None
    return keras


class _KerasAlias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """`import keras` (and `keras.layers`, ...) gives tf_keras' modules, as in a Keras 2
    environment where the `keras` package is Keras 2. The same module objects, not copies,
    so `keras.layers.Dense is tf_keras.layers.Dense`."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname != "keras" and not fullname.startswith("keras."):
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec: Any) -> ModuleType:
        return importlib.import_module("tf_keras" + spec.name[len("keras") :])

    def exec_module(self, module: ModuleType) -> None:
        pass


def alias_keras_to_tf_keras() -> None:
    for name in [n for n in sys.modules if n == "keras" or n.startswith("keras.")]:
        del sys.modules[name]  # Keras 3, if something imported it: user code must not get it
    sys.meta_path.insert(0, _KerasAlias())


def keras_backend(keras: Any) -> str:
    config = getattr(keras, "config", None)
    if config is not None and hasattr(config, "backend"):
        return str(config.backend())
    return "tensorflow"  # tf_keras (Keras 2) has only that one


def clear_session(keras: Any) -> None:
    """Reset keras' global state, so auto-generated names do not depend on earlier targets."""
    utils_clear = getattr(getattr(keras, "utils", None), "clear_session", None)
    if utils_clear is not None:
        utils_clear(free_memory=False)
    else:
        keras.backend.clear_session()


def limit_memory(max_bytes: int | None) -> None:
    """Cap the address space (RLIMIT_AS): past it, allocations fail with MemoryError."""
    if not max_bytes:
        return
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        max_bytes = min(max_bytes, hard)
    resource.setrlimit(resource.RLIMIT_AS, (max_bytes, hard))


def _in_big_stack(fn: Any) -> Any:
    """Run `fn()` in a thread with a deep stack; return its value or re-raise its exception.

    keras recurses once per layer while it maps a graph, so a 10,000-layer model needs
    more than the main thread's stack and Python's default recursion limit.
    """
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = fn()
        except BaseException as exc:  # handed back to the caller as it is
            outcome["error"] = exc

    try:
        old_size = threading.stack_size(BUILD_STACK_BYTES)
    except (ValueError, RuntimeError):  # pragma: no cover - the platform refuses
        return fn()
    try:
        thread = threading.Thread(target=run, name="kerlint-verify-build")
        try:
            thread.start()
        except RuntimeError:  # cannot reserve the stack (a low --max-memory): build here
            return fn()
    finally:
        threading.stack_size(old_size)
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    parent = os.environ.get(PARENT_VARIABLE, "")
    die_with_parent(int(parent) if parent.isdigit() else None)
    request = json.loads(Path(args[0]).read_text(encoding="utf-8"))
    events = Events(args[1])
    limit_memory(request.get("max_memory"))
    sys.setrecursionlimit(max(sys.getrecursionlimit(), RECURSION_LIMIT))
    for entry in reversed(request.get("sys_path", [])):
        if entry not in sys.path:
            sys.path.insert(0, entry)

    started = time.perf_counter()
    keras_name = request.get("keras", "keras")
    keras = _import_keras(events, keras_name)
    if keras is None:
        return 3
    import_seconds = time.perf_counter() - started
    if keras_name == "tf_keras":
        alias_keras_to_tf_keras()

    hooks = Hooks(keras)
    hooks.install_trainable_hook()
    hooks.install_model_hooks()
    if request.get("weights", "none") != "keep":
        hooks.install_applications_patch()
        block_network()
    events.send(
        event="ready",
        keras_version=keras.__version__,
        keras_name=keras_name,
        backend=keras_backend(keras),
        import_seconds=round(import_seconds, 4),
        python=sys.version.split()[0],
    )

    for target in request["targets"]:
        events.send(event="start", id=target["id"])

        def build(target: dict[str, Any] = target) -> dict[str, Any]:
            clear_session(keras)  # same auto-names whatever ran before
            return build_target(target, request, keras, hooks)

        try:
            report = _in_big_stack(build)
        except TargetError as exc:
            events.send(
                event="error", id=target["id"], kind=exc.kind, message=str(exc), traceback=""
            )
        except SystemExit as exc:
            events.send(
                event="error",
                id=target["id"],
                kind="exit",
                message=_exit_message(exc),
                traceback="",
            )
        except BaseException as exc:  # user code may raise anything, KeyboardInterrupt included
            message, tb = _format_exception(exc)
            if isinstance(exc, MemoryError) and request.get("max_memory"):
                message += f" (the child's memory is limited to {request['max_memory']:,} bytes by --max-memory)"
            events.send(
                event="error", id=target["id"], kind="exception", message=message, traceback=tb
            )
        else:
            events.send(event="result", id=target["id"], report=report)
        finally:
            hooks.reset()
    events.send(event="done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
