"""The `kerlint` command line, built with click.

Exit codes: 0 nothing found, 1 diagnostics found, 2 usage or configuration error.
"""

from __future__ import annotations

import gc
import json
import os
import sys
from pathlib import Path

import click

from kerlint import __version__
from kerlint.config import ConfigError, resolve_settings

FORMATS = ["concise", "full", "json", "sarif", "github", "gitlab", "junit"]


def _split_codes(values: tuple[str, ...]) -> list[str]:
    return [code.strip() for value in values for code in value.split(",") if code.strip()]


def _use_color() -> bool | None:
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return None


class KerlintGroup(click.Group):
    """Turns configuration errors into a clear message and exit code 2."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            click.echo(f"kerlint: error: {exc}", err=True)
            ctx.exit(2)

    # `verify` is registered on first use: `kerlint check` (the pre-commit run) does not
    # pay for importing its package (subprocess, tempfile, ...).
    def list_commands(self, ctx: click.Context) -> list[str]:
        _register_optional_commands()
        return super().list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands:
            _register_optional_commands()
        return super().get_command(ctx, cmd_name)


@click.group(cls=KerlintGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="kerlint")
def main() -> None:
    """kerlint: finds the silent freeze and fine-tuning mistakes in Keras code."""


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--select", multiple=True, help="Rule codes or prefixes to enable (replaces the default set)."
)
@click.option(
    "--extend-select", multiple=True, help="Rule codes or prefixes to enable in addition."
)
@click.option("--ignore", multiple=True, help="Rule codes or prefixes to disable.")
@click.option("--exclude", multiple=True, help="Patterns to exclude (replaces the defaults).")
@click.option(
    "--extend-exclude", multiple=True, help="Patterns to exclude in addition to the defaults."
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Use this configuration file.",
)
@click.option("--isolated", is_flag=True, help="Ignore every configuration file.")
@click.option(
    "--keras",
    "keras_version",
    type=click.Choice(["auto", "2", "3"]),
    help="Which Keras the code runs (default: auto, inferred from the project's pins).",
)
@click.option(
    "--target-keras",
    type=click.Choice(["3"]),
    help="Also report what changes silently when a Keras 2 project moves to Keras 3.",
)
@click.option("--output-format", type=click.Choice(FORMATS), default="concise", show_default=True)
@click.option(
    "-o",
    "--output-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the report to this file.",
)
@click.option("-q", "--quiet", is_flag=True, help="Print diagnostics only, no summary.")
@click.option("--statistics", is_flag=True, help="Count diagnostics per rule.")
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when diagnostics are found.")
@click.option("--stdin-filename", help="The name to report for source read from stdin (`-`).")
@click.option("--fix", is_flag=True, help="Apply safe fixes in place.")
@click.option("--diff", is_flag=True, help="Show the fixes as a unified diff; write nothing.")
@click.option(
    "--unsafe-fixes", is_flag=True, help="Also apply (or show) fixes that may change behaviour."
)
@click.option(
    "--baseline",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Hide the diagnostics recorded in this baseline file.",
)
@click.option(
    "--write-baseline",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Record today's diagnostics in this baseline file.",
)
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(min=0),
    default=None,
    help="Processes to use (default: the number of cores; 1: none).",
)
@click.option("--no-cache", is_flag=True, help="Neither read nor write the cache.")
@click.option(
    "--cache-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where to keep the cache (default .kerlint_cache).",
)
@click.option(
    "--verify",
    "verify_findings",
    is_flag=True,
    help="Build the factories that hold KL002/KL003/KL004/KL012 findings and confirm them at runtime.",
)
@click.option(
    "--timeout",
    type=float,
    default=120.0,
    show_default=True,
    help="With --verify: seconds per build.",
)
@click.option(
    "--backend",
    type=click.Choice(["numpy", "jax", "torch", "tensorflow"]),
    help="With --verify: the Keras backend.",
)
@click.pass_context
def check(ctx: click.Context, paths: tuple[Path, ...], **options) -> None:
    """Check Python files, folders and notebooks for Keras freeze mistakes."""
    # Importing LibCST and kerlint makes ~100,000 long-lived objects and no garbage: with
    # the cyclic GC paused they import ~7% faster, and frozen they are never scanned again
    # by the collections that the check itself triggers.
    gc.disable()
    try:
        from kerlint.runner import CheckRequest, execute
    finally:
        gc.freeze()
        gc.enable()

    targets = list(paths) or [Path(".")]
    reading_stdin = targets == [Path("-")]
    stdin_filename = options["stdin_filename"]
    if reading_stdin and stdin_filename:
        start = Path(stdin_filename).parent
    else:
        start = targets[0] if targets[0].exists() else Path(".")
    settings = resolve_settings(
        start=start.absolute(),
        config_path=options["config_path"],
        isolated=options["isolated"],
        select=_split_codes(options["select"]) if options["select"] else None,
        ignore=_split_codes(options["ignore"]),
        extend_select=_split_codes(options["extend_select"]),
        exclude=_split_codes(options["exclude"]) if options["exclude"] else None,
        extend_exclude=_split_codes(options["extend_exclude"]),
        keras=options["keras_version"],
        target_keras=options["target_keras"],
    )
    missing = [str(p) for p in targets if str(p) != "-" and not p.exists()]
    if missing:
        raise click.UsageError(f"no such file or directory: {', '.join(missing)}")
    color = _use_color()
    request = CheckRequest(
        paths=targets,
        settings=settings,
        stdin_filename=(stdin_filename or "-") if reading_stdin else None,
        output_format=options["output_format"],
        output_file=options["output_file"],
        quiet=options["quiet"],
        statistics=options["statistics"],
        exit_zero=options["exit_zero"],
        fix=options["fix"],
        diff=options["diff"],
        unsafe_fixes=options["unsafe_fixes"],
        baseline=options["baseline"],
        write_baseline=options["write_baseline"],
        jobs=options["jobs"],
        use_cache=not options["no_cache"],
        cache_dir=options["cache_dir"],
        verify=options["verify_findings"],
        timeout=options["timeout"],
        backend=options["backend"],
        color=color if color is not None else sys.stdout.isatty(),
    )
    ctx.exit(execute(request))


@main.command("rules")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
def rules_command(fmt: str) -> None:
    """List every rule: code, name, default on/off, fixable."""
    from kerlint.rules import registry

    rules = registry.all_rules()
    if fmt == "json":
        click.echo(
            json.dumps(
                [
                    {
                        "code": r.code,
                        "name": r.name,
                        "summary": r.summary,
                        "default": r.default,
                        "fix": r.fix,
                        "fixable": r.fix is not None,
                        "family": r.family,
                    }
                    for r in rules
                ],
                indent=2,
            )
        )
        return
    width = max(len(r.name) for r in rules)
    families = list(dict.fromkeys(r.family for r in rules))
    for index, family in enumerate(families):
        if len(families) > 1:
            if index:
                click.echo()
            click.echo(family)
        click.echo(f"{'code':<6}  {'name':<{width}}  {'default':<7}  fix     summary")
        for r in rules:
            if r.family == family:
                click.echo(
                    f"{r.code:<6}  {r.name:<{width}}  {'on' if r.default else 'off':<7}  {(r.fix or '-'):<6}  {r.summary}"
                )


@main.command()
@click.argument("code")
def explain(code: str) -> None:
    """Print the documentation page of a rule."""
    from kerlint.docs import rule_page

    page = rule_page(code.upper())
    if page is None:
        raise click.UsageError(f"unknown rule `{code}`; see `kerlint rules`")
    click.echo(page)


def _register_optional_commands() -> None:
    """`verify` lives in its own package; importing it never imports keras."""
    if "verify" in main.commands:
        return
    # `server` imports pygls (the `server` extra) only when it runs.
    from kerlint.server.command import server

    main.add_command(server)
    try:
        from kerlint.verify.command import verify
    except ImportError:  # pragma: no cover - the package ships it
        return
    main.add_command(verify)
