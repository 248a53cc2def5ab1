"""The `kerlint server` command: imports nothing of the server until it runs."""

from __future__ import annotations

import importlib.util
import logging
import sys
from pathlib import Path

import click

INSTALL_HINT = (
    "kerlint server needs the `server` extra (pygls and lsprotocol): pip install 'kerlint[server]'"
)


def _has_server_packages() -> bool:
    try:
        return all(importlib.util.find_spec(name) is not None for name in ("pygls", "lsprotocol"))
    except (ImportError, ValueError):  # a module set to None in sys.modules, a broken spec
        return False


@click.command("server")
@click.option(
    "--stdio", is_flag=True, help="Talk over stdin and stdout (the default and only way)."
)
@click.option(
    "--log-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the server's log to this file (it always goes to stderr).",
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="info",
    show_default=True,
)
def server(stdio: bool, log_file: Path | None, log_level: str) -> None:
    """Run the language server (LSP over stdio) for editors."""
    if not _has_server_packages():
        click.echo(f"kerlint: error: {INSTALL_HINT}", err=True)
        sys.exit(2)
    try:
        from kerlint.server.lsp import serve
    except ImportError as exc:
        click.echo(f"kerlint: error: {INSTALL_HINT} ({exc})", err=True)
        sys.exit(2)
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file is not None:
        handlers.append(logging.FileHandler(log_file, encoding="utf-8"))
    logging.basicConfig(
        level=getattr(logging, log_level.upper()),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=handlers,
    )
    if log_level != "debug":
        logging.getLogger("pygls").setLevel(logging.WARNING)
    serve()
