"""The `kerlint` command line, built with click.

Exit codes: 0 nothing found, 1 diagnostics found, 2 usage or configuration error, or a
file kerlint failed on (an internal error), even with --exit-zero.
"""

from __future__ import annotations

import gc
import json
import os
import sys
from pathlib import Path

import click

from kerlint import __version__
from kerlint.config import ConfigError

FORMATS = [
    "concise",
    "full",
    "json",
    "json-lines",
    "sarif",
    "github",
    "gitlab",
    "junit",
    "pylint",
    "rdjson",
    "azure",
]


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
    "--select",
    multiple=True,
    help="Rule codes, prefixes or names to enable (replaces the default set).",
)
@click.option(
    "--extend-select", multiple=True, help="Rule codes, prefixes or names to enable in addition."
)
@click.option("--ignore", multiple=True, help="Rule codes, prefixes or names to disable.")
@click.option(
    "--extend-ignore", multiple=True, help="Like --ignore (kept for flake8 and ruff habits)."
)
@click.option(
    "--per-file-ignores",
    multiple=True,
    metavar="PATTERN:CODES",
    help="Ignore CODES (comma-separated) in the files matching PATTERN; may be repeated.",
)
@click.option("--exclude", multiple=True, help="Patterns to exclude (replaces the defaults).")
@click.option(
    "--extend-exclude", multiple=True, help="Patterns to exclude in addition to the defaults."
)
@click.option(
    "--force-exclude/--no-force-exclude",
    default=None,
    help="Apply the excludes to files named on the command line too (as pre-commit passes them).",
)
@click.option(
    "--respect-gitignore/--no-respect-gitignore",
    default=None,
    help="Skip what .gitignore, .ignore and .git/info/exclude leave out (default: yes).",
)
@click.option(
    "--config",
    "config_values",
    multiple=True,
    metavar="FILE | KEY=VALUE",
    help="A configuration file to use for every file, or a `key = value` setting in TOML "
    "that overrides the configuration files; may be repeated.",
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
    help="Write the report to this file (its folder is made when missing).",
)
@click.option("-q", "--quiet", is_flag=True, help="Print diagnostics only, no summary.")
@click.option("--statistics", is_flag=True, help="Count diagnostics per rule.")
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when diagnostics are found.")
@click.option(
    "--exit-non-zero-on-fix",
    is_flag=True,
    help="Exit 1 when a fix was applied, even if nothing remains.",
)
@click.option(
    "--stdin-filename",
    help="Read the source from stdin and report it as this file (also how its configuration "
    "is found).",
)
@click.option("--fix", is_flag=True, help="Apply safe fixes in place.")
@click.option(
    "--fix-only", is_flag=True, help="Apply safe fixes in place; report nothing that remains."
)
@click.option("--diff", is_flag=True, help="Show the fixes as a unified diff; write nothing.")
@click.option(
    "--unsafe-fixes", is_flag=True, help="Also apply (or show) fixes that may change behaviour."
)
@click.option("--unfixable", multiple=True, help="Rule codes, prefixes or names never to fix.")
@click.option(
    "--show-fixes/--no-show-fixes",
    default=None,
    help="After --fix, list what was fixed in each file.",
)
@click.option("--show-files", is_flag=True, help="List the files that would be checked, and stop.")
@click.option(
    "--show-settings",
    is_flag=True,
    help="Print the settings the first path gets, and the files they come from, and stop.",
)
@click.option("--ignore-noqa", is_flag=True, help="Report what `# noqa` comments suppress.")
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
    # Importing kerlint makes many long-lived objects and no garbage: with the cyclic GC
    # paused it imports faster, and frozen they are never scanned again by the collections
    # that the check itself triggers. (LibCST, far larger, is imported only for a fix.)
    gc.disable()
    try:
        from kerlint.runner import CheckRequest, execute
    finally:
        gc.freeze()
        gc.enable()

    stdin_filename = options["stdin_filename"]
    targets = list(paths) or ([Path("-")] if stdin_filename else [Path(".")])
    # As ruff: --stdin-filename means the source comes from stdin, paths or not.
    reading_stdin = targets == [Path("-")] or stdin_filename is not None
    if stdin_filename and any(str(p) != "-" for p in targets):
        others = ", ".join(str(p) for p in targets if str(p) != "-")
        _warn(f"ignoring {others} in favour of standard input (--stdin-filename)")
    resolver = _resolver(options)
    if options["show_settings"]:
        first = Path(stdin_filename) if reading_stdin and stdin_filename else targets[0]
        click.echo(f"Resolved settings for: {_printable(str(first))}")
        settings = resolver.settings_for(first)
        click.echo(settings.describe())
        for line in _keras_decision(first, settings):
            click.echo(line)
        ctx.exit(0)
    if not reading_stdin:
        missing = [str(p) for p in targets if not p.exists()]
        if missing:
            raise click.UsageError(f"no such file or directory: {', '.join(missing)}")
    if options["show_files"]:
        from kerlint.discovery import discover

        for path in discover(targets, resolver):
            click.echo(_printable(str(path)))
        ctx.exit(0)
    color = _use_color()
    fix_only = options["fix_only"]
    request = CheckRequest(
        paths=targets,
        settings=resolver,
        stdin_filename=(stdin_filename or "-") if reading_stdin else None,
        output_format=options["output_format"],
        output_file=options["output_file"],
        quiet=options["quiet"],
        statistics=options["statistics"],
        exit_zero=options["exit_zero"],
        fix=options["fix"] or fix_only,
        fix_only=fix_only,
        exit_non_zero_on_fix=options["exit_non_zero_on_fix"],
        show_fixes=bool(options["show_fixes"]),
        diff=options["diff"],
        unsafe_fixes=options["unsafe_fixes"],
        ignore_noqa=options["ignore_noqa"],
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


def _warn(message: str) -> None:
    click.echo(f"kerlint: warning: {message}", err=True)


def _printable(text: str) -> str:
    from kerlint.diagnostics import printable

    return printable(text)


def _resolver(options: dict):
    """The per-file settings: configuration files under the command line's values."""
    from kerlint.config import Overrides, SettingsResolver, parse_inline

    config_file: Path | None = None
    inline: list[dict] = []
    for value in options["config_values"]:
        candidate = Path(value).expanduser()
        if candidate.is_file():
            if config_file is not None:
                raise ConfigError(f"--config: only one configuration file, got {value} too")
            config_file = candidate
        elif "=" not in value:
            raise ConfigError(f"--config: no such file `{value}`")
        else:
            inline.append(parse_inline(value))
    flags: dict = {}
    lists = {
        "select": "select",
        "extend_select": "extend-select",
        "ignore": "ignore",
        "extend_ignore": "extend-ignore",
        "exclude": "exclude",
        "extend_exclude": "extend-exclude",
        "unfixable": "unfixable",
    }
    for option, key in lists.items():
        if options[option]:
            flags[key] = _split_codes(options[option])
    for option, key in (
        ("keras_version", "keras"),
        ("target_keras", "target-keras"),
        ("force_exclude", "force-exclude"),
        ("respect_gitignore", "respect-gitignore"),
    ):
        if options[option] is not None:
            flags[key] = options[option]
    overrides = Overrides(
        flags=flags,
        inline=tuple(inline),
        per_file_ignores=tuple(options["per_file_ignores"]),
    )
    return SettingsResolver(overrides, config_path=config_file, isolated=options["isolated"])


@main.command("rules")
@click.option(
    "--output-format",
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
)
def rules_command(fmt: str) -> None:
    """List every rule: code, name, default on/off, fixable."""
    from kerlint.rules import registry

    rules = registry.all_rules()
    if fmt == "json":
        click.echo(json.dumps([_rule_record(r) for r in rules], indent=2))
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


def _rule_record(rule) -> dict:
    return {
        "code": rule.code,
        "name": rule.name,
        "summary": rule.summary,
        "default": rule.default,
        "fix": rule.fix,
        "fixable": rule.fix is not None,
        "family": rule.family,
    }


@main.command()
@click.argument("code", required=False)
@click.option("--all", "show_all", is_flag=True, help="Every rule's page.")
@click.option(
    "--output-format",
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
)
def explain(code: str | None, show_all: bool, fmt: str) -> None:
    """Print the documentation page of a rule (a code or a name)."""
    from kerlint.docs import rule_page
    from kerlint.rules import registry

    if show_all == (code is not None):
        raise click.UsageError("give one rule code or name, or --all")
    if show_all:
        chosen = list(registry.all_rules())
    else:
        assert code is not None
        by_name = {rule.name: rule for rule in registry.all_rules()}
        rule = registry.get(code.upper()) or by_name.get(code.lower())
        if rule is None:
            raise click.UsageError(f"unknown rule `{code}`; see `kerlint rules`")
        chosen = [rule]
    if fmt == "json":
        records = [{**_rule_record(r), "explanation": rule_page(r.code)} for r in chosen]
        click.echo(json.dumps(records if show_all else records[0], indent=2))
        return
    click.echo("\n\n".join(rule_page(r.code) or f"# {r.code}: {r.name}\n" for r in chosen))


def _keras_decision(path: Path, settings) -> list[str]:
    """--show-settings FILE: which Keras the file runs, why, and the project files read."""
    if not path.is_file():
        return []
    from kerlint.keras_version import KerasDetector
    from kerlint.source import SourceError, read_source

    try:
        source = read_source(path, str(path))
    except SourceError as exc:
        return [f"# keras decision: the file cannot be read ({exc.message})"]
    detector = KerasDetector()
    mode = detector.decide_source(source, settings.keras, settings.target_keras)
    version = f"Keras {mode.version}" if mode.version else "unknown (the portable reading)"
    lines = [
        f"keras decision = {_printable(version)}",
        f"  because: {_printable(mode.because)}",
        f"  upgrade view: {'on (target-keras = 3)' if mode.upgrade_view else 'off'}",
    ]
    files = detector.project_files(path)
    lines += [f"  read: {_printable(str(file))}" for file in files]
    return lines


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
