"""`kerlint verify`: the click command. Importing this module never imports keras.

Exit codes: 0 every target built and passed; 1 a runtime finding, an unmet expectation or
snapshot drift; 2 a target could not be built (it raised, exited, crashed or timed out),
keras is missing, or the command line or configuration is wrong.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import click

from kerlint.verify import expectations as exp
from kerlint.verify import snapshot as snap
from kerlint.verify import which_keras
from kerlint.verify.report import (
    DEFAULT_MAX_DEPTH,
    JSON_VERSION,
    TargetResult,
    diagnostics_from,
    exit_code,
    header,
    render_json,
    render_target_text,
    summary,
)
from kerlint.verify.runner import (
    DEFAULT_TIMEOUT,
    BuildError,
    FatalError,
    Outcome,
    Session,
    graph_fatal,
    graph_tools_problem,
    run_targets,
)
from kerlint.verify.targets import (
    BACKENDS,
    SAVED_SUFFIXES,
    TARGET_HELP,
    Target,
    VerifyConfig,
    VerifyConfigError,
    configured_backend,
    load_config,
    parse_kwargs,
    parse_size,
    parse_target,
)

RUNTIME_CODES = ("KL001", "KL002", "KL003", "KL004", "KL012", *(f"KL10{i}" for i in range(1, 8)))
GRAPH_SUFFIXES = (".png", ".svg", ".pdf", ".dot")


def _identity(target: Target) -> tuple[str, str | None, str | None]:
    return (target.kind, target.path or target.module, target.function)


def select_targets(
    texts: tuple[str, ...], kwargs: dict[str, Any], config: VerifyConfig, cwd: Path
) -> list[Target]:
    """Command-line targets (taking kwargs, name and expectations from a matching config
    entry), or every configured target when none is given."""
    if not texts:
        if not config.targets:
            where = f" in {config.path}" if config.path else ""
            raise VerifyConfigError(
                f"no TARGET given and no [tool.kerlint.verify] targets{where}; {TARGET_HELP}"
            )
        if kwargs:
            raise VerifyConfigError("--kwargs applies to TARGETs given on the command line")
        return list(config.targets)
    configured = {_identity(t): t for t in config.targets}
    targets = []
    for text in texts:
        if text.strip().lower().endswith(SAVED_SUFFIXES):
            targets.append(parse_target(text, base=cwd))  # --kwargs is for factories
            continue
        target = parse_target(text, base=cwd, kwargs=kwargs)
        known = configured.get(_identity(target))
        if known is not None:
            target = parse_target(
                text,
                base=cwd,
                kwargs=kwargs or known.kwargs,
                name=None if kwargs else known.label,
                expect=known.expect,
            )
        targets.append(target)
    return targets


def _slug(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", label).strip("_") or "model"


def graph_paths(graph: Path, targets: list[Target]) -> None:
    """One picture per target: FILE itself for one target, FILE-<target>.ext for several."""
    if graph.suffix.lower() not in GRAPH_SUFFIXES:
        raise VerifyConfigError(f"--graph must end in one of {', '.join(GRAPH_SUFFIXES)}")
    for target in targets:
        path = (
            graph
            if len(targets) == 1
            else graph.with_name(f"{graph.stem}-{_slug(target.label)}{graph.suffix}")
        )
        target.graph = str(path.resolve())


def _missing(target: Target) -> Outcome | None:
    """A file target whose file does not exist: no need to start keras to say so."""
    if target.kind in ("file", "saved") and target.path and not Path(target.path).is_file():
        return Outcome(target, error=BuildError("not_found", f"no such file: {target.path}"))
    return None


class Evaluator:
    """Turns each outcome into a TargetResult: findings, expectations, snapshot drift."""

    def __init__(
        self, ignore: set[str], snapshot: dict[str, Any] | None, use_snapshot: bool, update: bool
    ) -> None:
        self.ignore = ignore
        self.old = snapshot or {}
        self.use_snapshot = use_snapshot
        self.update = update
        self.new_entries: dict[str, Any] = {}

    def __call__(self, target: Target, outcome: Outcome) -> TargetResult:
        result = TargetResult(target, outcome)
        report = outcome.report
        if report is None:
            return result
        model = report["models"][0]
        result.diagnostics = diagnostics_from(report, self.ignore)
        if target.expect:
            result.expectations = exp.check(model, target.expect)
        if self.use_snapshot:
            entry = snap.entry(model)
            if self.update:
                self.new_entries[target.label] = entry
                result.snapshot = "updated"
            else:
                old = self.old.get(target.label)
                result.drift = snap.drift(old, entry)
                result.snapshot = (
                    "missing" if old is None else ("drift" if result.drift else "match")
                )
        return result


def _fatal_message(error: FatalError, backend: str | None, source: str) -> str:
    """The error, plus where the backend choice came from when the backend is missing."""
    if error.kind != "backend_missing":
        return str(error)
    if backend:
        return f"{error} (backend {backend} from {source})"
    return f"{error} (no backend is configured, so keras uses tensorflow)"


def _fail(
    ctx: click.Context, error: FatalError, backend: str | None, source: str, text: bool
) -> None:
    """Nothing can be built: say why (text on stderr, or a JSON document) and exit 2."""
    message = _fatal_message(error, backend, source)
    if text:
        click.echo(f"kerlint verify: error: {message}", err=True)
        if error.detail:
            click.echo(error.detail, err=True)
    else:
        document = {"kerlint_verify": JSON_VERSION, "error": message, "exit_code": 2}
        click.echo(json.dumps(document, indent=2))
    ctx.exit(2)


def _configured_keras(config_file: Path | None, cwd: Path) -> str:
    """`keras = "auto" | "2" | "3"` of the [tool.kerlint] table that holds the verify table."""
    from kerlint.config import ConfigError, find_pyproject_table, load_table

    try:
        table = load_table(config_file) if config_file else find_pyproject_table(cwd)[1]
    except ConfigError:
        return "auto"
    value = str(table.get("keras", "auto"))
    return value if value in ("auto", "2", "3") else "auto"


def _codes(values: tuple[str, ...]) -> set[str]:
    codes = {c.strip().upper() for v in values for c in v.split(",") if c.strip()}
    bad = sorted(c for c in codes if not re.fullmatch(r"KL\d{3}", c))
    if bad:
        raise VerifyConfigError(f"--ignore takes rule codes like KL012, got {', '.join(bad)}")
    return codes


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("targets", nargs=-1, metavar="[TARGET]...")
@click.option(
    "--kwargs",
    "kwargs_json",
    metavar="JSON",
    help="Keyword arguments for the factories, e.g. '{\"num_classes\": 10}'.",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
)
@click.option(
    "--expect",
    "expect_counts",
    multiple=True,
    metavar="NAME=COUNT",
    help="Expected count: trainable_weights, non_trainable_weights, trainable_params, non_trainable_params (also weights, params).",
)
@click.option(
    "--frozen",
    multiple=True,
    metavar="PATTERN",
    help="Layers (fnmatch on name or path) that must not train.",
)
@click.option(
    "--trainable",
    multiple=True,
    metavar="PATTERN",
    help="Layers (fnmatch on name or path) that must train.",
)
@click.option(
    "--snapshot",
    "snapshot_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="JSON lock of every target's per-layer trainable state; drift fails.",
)
@click.option("--update-snapshot", is_flag=True, help="Rewrite the snapshot from this run.")
@click.option(
    "--backend",
    type=click.Choice(BACKENDS),
    help="Keras backend [default: KERAS_BACKEND, then ~/.keras/keras.json].",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    metavar="SECONDS",
    help=f"Seconds each target may take [default: {DEFAULT_TIMEOUT:g}].",
)
@click.option(
    "--weights",
    type=click.Choice(["none", "keep"]),
    help="keras.applications weights: none (default; no download, no network) or keep.",
)
@click.option(
    "--graph",
    "graph_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Draw the model, frozen and trainable layers told apart (.png, .svg; needs pydot and graphviz).",
)
@click.option(
    "--ignore",
    "ignore_codes",
    multiple=True,
    metavar="CODE",
    help="Runtime checks not to report (KL001-KL004, KL012, KL101-KL107).",
)
@click.option(
    "--max-depth",
    type=click.IntRange(min=0),
    metavar="N",
    help="Show nested models' layers this deep in the layer table [default: 1: a nested model is one row].",
)
@click.option(
    "--max-memory",
    metavar="SIZE",
    help="Limit the child's address space (RLIMIT_AS), e.g. 4G; past it, building fails with MemoryError.",
)
@click.option(
    "--keras",
    "keras_choice",
    type=click.Choice(["auto", "2", "3"]),
    help="Which Keras builds the models: 2 uses tf_keras [default: keras in [tool.kerlint], else auto: as `kerlint check` decides per file].",
)
@click.option(
    "-q", "--quiet", is_flag=True, help="Only totals, findings and failures: no layer table."
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Read [tool.kerlint.verify] from this file.",
)
@click.pass_context
def verify(
    ctx: click.Context,
    targets: tuple[str, ...],
    kwargs_json: str | None,
    output_format: str,
    expect_counts: tuple[str, ...],
    frozen: tuple[str, ...],
    trainable: tuple[str, ...],
    snapshot_path: Path | None,
    update_snapshot: bool,
    backend: str | None,
    timeout: float | None,
    weights: str | None,
    graph_path: Path | None,
    ignore_codes: tuple[str, ...],
    max_depth: int | None,
    max_memory: str | None,
    keras_choice: str | None,
    quiet: bool,
    config_path: Path | None,
) -> None:
    """Build each model with keras and show, and check, what will really train.

    TARGET is path/to/file.py:function or package.module:function (a factory that returns
    a model) or a saved .keras file. Without TARGET, the targets of [tool.kerlint.verify]
    are verified. Each target is built in a child process (--timeout each); training calls
    in the factory are skipped. Exit code 0: all good; 1: a runtime finding, an unmet
    expectation or snapshot drift; 2: a target could not be built, or a usage error.
    """
    cwd = Path.cwd()
    config = load_config(cwd, file=config_path)
    selected = select_targets(targets, parse_kwargs(kwargs_json), config, cwd)

    cli_expect = exp.Expectations(frozen=list(frozen), trainable=list(trainable))
    for text in expect_counts:
        try:
            key, value = exp.parse_expect_option(text)
        except ValueError as error:
            raise click.BadParameter(str(error), param_hint="--expect") from error
        cli_expect.counts[key] = value
    if cli_expect:
        for target in selected:
            target.expect = target.expect.merged(cli_expect)

    snapshot_file = snapshot_path or config.snapshot
    if update_snapshot and snapshot_file is None:
        raise VerifyConfigError(
            "--update-snapshot needs --snapshot FILE (or snapshot in [tool.kerlint.verify])"
        )
    old_snapshot = None
    if snapshot_file is not None:
        try:
            old_snapshot = snap.load(snapshot_file)
        except snap.SnapshotError as error:
            if not update_snapshot:
                raise VerifyConfigError(str(error)) from error
    if graph_path is not None:
        graph_paths(graph_path, selected)
    memory_limit = parse_size(max_memory) if max_memory else config.max_memory
    configured_keras = keras_choice or _configured_keras(config.path, cwd)
    for target in selected:
        which_keras.choose(target, configured_keras)

    if backend:
        chosen, source = backend, "--backend"
    elif config.backend:
        chosen, source = config.backend, str(config.path)
    else:
        chosen, source = configured_backend()
    ignore = _codes(ignore_codes) | set(config.ignore)
    evaluate = Evaluator(ignore, old_snapshot, snapshot_file is not None, update_snapshot)
    text = output_format == "text"

    results: dict[int, TargetResult] = {}
    session = Session()  # filled in by the runner once the child has imported keras
    printed_header = False

    def show(index: int, outcome: Outcome) -> None:
        nonlocal printed_header
        result = results[index] = evaluate(selected[index], outcome)
        if not text:
            return
        if not printed_header and session.keras_version:
            click.echo(header(session, source))
            printed_header = True
        click.echo(
            render_target_text(
                result, max_depth=DEFAULT_MAX_DEPTH if max_depth is None else max_depth, quiet=quiet
            )
        )
        if not quiet:
            click.echo("")

    buildable = []
    for i, target in enumerate(selected):
        missing = _missing(target)
        if missing is not None:
            show(i, missing)
        else:
            buildable.append(i)
    if buildable and graph_path is not None:
        problem = graph_tools_problem(chosen)
        if problem:
            _fail(ctx, graph_fatal(problem), chosen, source, text)
    if buildable:
        try:
            run_targets(
                [selected[i] for i in buildable],
                backend=chosen,
                timeout=timeout or config.timeout or DEFAULT_TIMEOUT,
                weights=weights or config.weights or "none",
                graph=graph_path is not None,
                max_memory=memory_limit,
                on_outcome=lambda j, outcome: show(buildable[j], outcome),
                session=session,
            )
        except FatalError as error:
            _fail(ctx, error, chosen, source, text)

    ordered = [results[i] for i in range(len(selected))]
    if update_snapshot and snapshot_file is not None:
        snap.write(snapshot_file, {**(old_snapshot or {}), **evaluate.new_entries})
    if text:
        click.echo(summary(ordered))
        if update_snapshot and snapshot_file is not None:
            click.echo(f"snapshot written to {snapshot_file}")
    else:
        click.echo(
            render_json(
                ordered, session, weights=weights or config.weights or "none", backend_source=source
            )
        )
    ctx.exit(exit_code(ordered))
