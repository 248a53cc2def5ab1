"""The language server: pygls over stdio, the documents it syncs, one check per document version.

Checks run on one worker thread, off the event loop, so that the server keeps reading while
it checks. A change is checked after a short pause (more keystrokes within it cancel the
pending check); a check that finishes for a version the document has moved past is dropped,
never published. Diagnostics are pushed (`textDocument/publishDiagnostics`) to clients that do
not pull them, and every client may pull them (`textDocument/diagnostic`).

Nothing a client sends stops the server: every handler logs its failure and answers.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import inspect
import logging
import re
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path

from kerlint import __version__
from kerlint.diagnostics import Diagnostic, Location, rule_url
from kerlint.docs import rule_page
from kerlint.engine import FileResult
from kerlint.fixes import applicable
from kerlint.notebook import magic_rows
from kerlint.rules import PARSE_ERROR
from kerlint.server.actions import (
    TextChange,
    fix_all,
    fixed_cells,
    minimal_change,
    noqa_edit,
)
from kerlint.server.documents import Cell, notebook_bytes, notebook_source, python_source
from kerlint.server.positions import UTF16, LineIndex
from kerlint.server.project import Checked, ProjectSettings, check_document, is_config_file
from kerlint.source import Source, SourceError

logger = logging.getLogger("kerlint.server")

DEFAULT_DEBOUNCE_SECONDS = 0.05
FIX_ALL_KIND = "source.fixAll.kerlint"
NOTEBOOK_FIX_ALL_KIND = "notebook.source.fixAll.kerlint"
_RULE_CODE = re.compile(r"KL[0-9]{3}")


# ---------------------------------------------------------------------------- reports


@dataclass
class Target:
    """One text a document's diagnostics are published to: the document, or one notebook cell."""

    uri: str
    text: str
    index: LineIndex
    cell_index: int | None = None  # its position in the notebook's cells
    version: int | None = None
    found: list[tuple[Diagnostic, types.Diagnostic]] = field(default_factory=list)

    def offset(self, row: int, column: int) -> int:
        """kerlint counts rows and columns past a leading BOM (the source it read had none)."""
        bom = 1 if row == 1 and self.text.startswith("\ufeff") else 0
        return self.index.offset(row, column) + bom

    def position(self, offset: int, encoding: str) -> types.Position:
        line, character = self.index.to_client(offset, encoding)
        return types.Position(line=line, character=character)

    def client_range(self, start: int, end: int, encoding: str) -> types.Range:
        return types.Range(start=self.position(start, encoding), end=self.position(end, encoding))

    def span(self, diagnostic: Diagnostic) -> tuple[int, int]:
        start = self.offset(diagnostic.location.row, diagnostic.location.column)
        end = self.offset(diagnostic.end_location.row, diagnostic.end_location.column)
        return start, max(start, end)


@dataclass
class Snapshot:
    """What is checked: a document (or notebook) at one version, copied off the workspace."""

    key: str  # the text document's or the notebook's URI
    version: int | None
    path: Path | None
    display: str
    text: str | None = None  # a Python document
    cells: list[Cell] | None = None  # a notebook


@dataclass
class Report:
    """A snapshot's check, split by target and converted to the client's positions."""

    snapshot: Snapshot
    generation: int
    checked: Checked
    targets: dict[str, Target]
    data: bytes | None = None  # the bytes `check --fix` would read (a notebook's JSON)

    @property
    def version(self) -> int | None:
        return self.snapshot.version

    @property
    def result_id(self) -> str:
        return f"{self.snapshot.version}.{self.generation}"


def _lsp_diagnostic(target: Target, diagnostic: Diagnostic, encoding: str) -> types.Diagnostic:
    start, end = target.span(diagnostic)
    is_error = diagnostic.code == PARSE_ERROR
    return types.Diagnostic(
        range=target.client_range(start, end, encoding),
        message=diagnostic.full_message,
        severity=types.DiagnosticSeverity.Error if is_error else types.DiagnosticSeverity.Warning,
        code=diagnostic.code,
        code_description=None
        if is_error
        else types.CodeDescription(href=rule_url(diagnostic.code)),
        source="kerlint",
    )


def build_report(
    project: ProjectSettings, snapshot: Snapshot, generation: int, encoding: str
) -> Report:
    """Check a snapshot (on the worker thread); never raises: a failure is a KL000."""
    data = None
    source: Source | None = None
    try:
        if snapshot.cells is not None:
            data = notebook_bytes(snapshot.cells)
            source = notebook_source(
                snapshot.path or Path("untitled.ipynb"), snapshot.display, snapshot.cells
            )
        else:
            source = python_source(
                snapshot.path or Path("untitled.py"), snapshot.display, snapshot.text or ""
            )
    except SourceError as exc:
        checked = _failed(snapshot, exc.message, exc.row, exc.column)
    else:
        checked = check_document(project, snapshot.path, source)
    try:
        return _report(snapshot, generation, checked, source, data, encoding)
    except Exception as exc:  # a bug of the server's own: say so on the document
        logger.error("reporting on %s failed:\n%s", snapshot.display, traceback.format_exc())
        message = f"internal error in kerlint's server ({type(exc).__name__}); please report it"
        return _report(snapshot, generation, _failed(snapshot, message), None, None, encoding)


def _failed(snapshot: Snapshot, message: str, row: int = 1, column: int = 1) -> Checked:
    at = Location(max(row, 1), max(column, 1))
    diagnostic = Diagnostic(PARSE_ERROR, message, snapshot.display, at, at)
    return Checked(FileResult(Path(snapshot.display), [diagnostic]), frozenset())


def _report(
    snapshot: Snapshot,
    generation: int,
    checked: Checked,
    source: Source | None,
    data: bytes | None,
    encoding: str,
) -> Report:
    """Each diagnostic on its target (a notebook's: on its cell), in the client's units."""
    if snapshot.cells is None:
        text = snapshot.text or ""
        only = Target(snapshot.key, text, LineIndex(text), version=snapshot.version)
        targets = {snapshot.key: only}
    else:
        targets = {
            cell.uri: Target(cell.uri, cell.text, LineIndex(cell.text), cell_index=position)
            for position, cell in enumerate(snapshot.cells)
        }
    ordered = list(targets.values())
    by_cell = {span.cell: span.index for span in (source.cells or [])} if source else {}
    # What belongs to no cell (the notebook could not be read) goes on the first code cell.
    fallback = next(
        (ordered[i] for i, cell in enumerate(snapshot.cells or []) if cell.is_python),
        ordered[0] if ordered else None,
    )
    for diagnostic in checked.result.diagnostics:
        index = by_cell.get(diagnostic.cell) if diagnostic.cell is not None else None
        target = ordered[index] if index is not None and index < len(ordered) else fallback
        if target is not None:
            target.found.append((diagnostic, _lsp_diagnostic(target, diagnostic, encoding)))
    return Report(snapshot, generation, checked, targets, data)


# ---------------------------------------------------------------------------- the server


def _guarded(default: Any = None) -> Callable:
    """A handler that fails logs why and answers `default`: the server goes on."""

    def wrap(handler: Callable) -> Callable:
        if inspect.iscoroutinefunction(handler):

            @functools.wraps(handler)
            async def run_async(*args: Any) -> Any:
                try:
                    return await handler(*args)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    logger.error("%s failed:\n%s", handler.__name__, traceback.format_exc())
                    return default

            return run_async

        @functools.wraps(handler)
        def run(*args: Any) -> Any:
            try:
                return handler(*args)
            except Exception:
                logger.error("%s failed:\n%s", handler.__name__, traceback.format_exc())
                return default

        return run

    return wrap


class KerlintServer(LanguageServer):
    """pygls's server with kerlint's state: settings, pending checks and the last reports."""

    def __init__(self) -> None:
        super().__init__(
            "kerlint",
            __version__,
            text_document_sync_kind=types.TextDocumentSyncKind.Full,
            notebook_document_sync=types.NotebookDocumentSyncOptions(
                notebook_selector=[
                    types.NotebookDocumentFilterWithCells(
                        notebook="*", cells=[types.NotebookCellLanguage(language="python")]
                    )
                ],
                save=True,
            ),
        )
        self.project = ProjectSettings(Path.cwd())
        self.checker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kerlint-check")
        self.debounce = DEFAULT_DEBOUNCE_SECONDS
        self.push = True
        self.generation = 0
        self.pending: dict[str, asyncio.Task] = {}
        self.last_change: dict[str, float] = {}
        self.reports: dict[str, Report] = {}
        self.published: dict[str, set[str]] = {}

    # -------------------------------------------------------------- what is open

    @property
    def encoding(self) -> str:
        value = self.workspace.position_encoding or UTF16
        return str(getattr(value, "value", value))

    def key_for(self, uri: str) -> str | None:
        """The document a URI belongs to: itself, or the notebook holding that cell."""
        notebook = self.workspace.get_notebook_document(cell_uri=uri)
        if notebook is not None:
            return notebook.uri
        if self.workspace.get_notebook_document(notebook_uri=uri) is not None:
            return uri
        return uri if unquote(uri) in self.workspace.text_documents else None

    def snapshot(self, key: str) -> Snapshot | None:
        path = _path_of(key)
        display = str(path) if path else key
        notebook = self.workspace.get_notebook_document(notebook_uri=key)
        documents = self.workspace.text_documents
        if notebook is not None:
            cells = []
            for cell in notebook.cells:
                document = documents.get(unquote(cell.document))
                if document is None:
                    continue
                cells.append(
                    Cell(
                        uri=cell.document,
                        code=cell.kind == types.NotebookCellKind.Code,
                        language=document.language_id or "python",
                        text=document._source or "",
                    )
                )
            return Snapshot(key, notebook.version, path, display, cells=cells)
        document = documents.get(unquote(key))
        if document is None or not _is_python(document.language_id, key):
            return None
        # `_source`, not `source`: pygls would read a document it does not hold from disk.
        return Snapshot(key, document.version, path, display, text=document._source or "")

    def current_version(self, key: str) -> int | None:
        snapshot = self.snapshot(key)
        return snapshot.version if snapshot else None

    # -------------------------------------------------------------- checking

    async def fresh_report(self, key: str) -> Report | None:
        """The report for the document's current version, checked now unless one exists."""
        snapshot = self.snapshot(key)
        if snapshot is None:
            return None
        cached = self.reports.get(key)
        if (
            cached is not None
            and cached.version == snapshot.version
            and cached.generation == self.generation
        ):
            return cached
        loop = asyncio.get_running_loop()
        report = await loop.run_in_executor(
            self.checker, build_report, self.project, snapshot, self.generation, self.encoding
        )
        if self.current_version(key) == report.version and report.generation == self.generation:
            self.reports[key] = report
        return report

    def schedule(self, key: str, delay: float) -> None:
        """Check `key` after `delay` seconds and push the result; replaces a pending check.

        The pause only gathers a burst: a change to a document that is not being checked,
        after a quiet moment, is checked at once (what a typist waits for is the check alone).
        """
        if not self.push:
            return
        now = time.monotonic()
        previous = self.pending.pop(key, None)
        if previous is not None:
            previous.cancel()
        elif now - self.last_change.get(key, float("-inf")) > delay:
            delay = 0
        self.last_change[key] = now
        task = asyncio.ensure_future(self._check_and_publish(key, delay))
        self.pending[key] = task
        task.add_done_callback(lambda done: self._forget_task(key, done))

    def _forget_task(self, key: str, task: asyncio.Task) -> None:
        if self.pending.get(key) is task:
            del self.pending[key]

    async def _check_and_publish(self, key: str, delay: float) -> None:
        try:
            if delay > 0:
                await asyncio.sleep(delay)
            report = await self.fresh_report(key)
            if report is None:
                return
            if self.current_version(key) != report.version or report.generation != self.generation:
                logger.debug("dropped the check of %s version %s: outdated", key, report.version)
                return
            self.publish(key, report)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.error("checking %s failed:\n%s", key, traceback.format_exc())

    def publish(self, key: str, report: Report) -> None:
        uris = set(report.targets)
        for uri, target in report.targets.items():
            self.text_document_publish_diagnostics(
                types.PublishDiagnosticsParams(
                    uri=uri,
                    diagnostics=[lsp for _, lsp in target.found],
                    version=target.version,
                )
            )
        for gone in self.published.get(key, set()) - uris:  # cells deleted since
            self.clear(gone)
        self.published[key] = uris

    def clear(self, uri: str) -> None:
        self.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(uri=uri, diagnostics=[])
        )

    def closed(self, key: str) -> None:
        task = self.pending.pop(key, None)
        if task is not None:
            task.cancel()
        self.reports.pop(key, None)
        self.last_change.pop(key, None)
        if self.push:
            for uri in self.published.pop(key, {key}):
                self.clear(uri)

    def configuration_changed(self) -> None:
        """A pyproject.toml or kerlint.toml changed: new settings, every open document again."""
        self.project.forget()
        self.generation += 1
        self.reports.clear()
        if self.push:
            for key in self.open_keys():
                self.schedule(key, 0)
        elif _supports(self.client_capabilities, "workspace.diagnostics.refresh_support"):
            self.workspace_diagnostic_refresh(None)

    def open_keys(self) -> list[str]:
        notebooks = list(self.workspace.notebook_documents)
        cells = {
            unquote(cell.document)
            for notebook in self.workspace.notebook_documents.values()
            for cell in notebook.cells
        }
        texts = [
            document.uri
            for key, document in self.workspace.text_documents.items()
            if key not in cells
        ]
        return [self.workspace.notebook_documents[n].uri for n in notebooks] + texts

    def shutdown(self) -> None:
        for task in self.pending.values():
            task.cancel()
        self.checker.shutdown(wait=False, cancel_futures=True)
        super().shutdown()

    def report_server_error(self, error: Exception, source: Any) -> None:
        """Bad input from the client is logged, not shown as a pop-up on every message."""
        logger.error("error while handling a message: %s", error)


_PYTHON_LANGUAGES = ("python", "python3", "ipython", "py", "")


def _is_python(language: str | None, uri: str) -> bool:
    """A document to check: Python by its language, or by its name when it has none."""
    if language is not None and language.lower() in _PYTHON_LANGUAGES:
        return True
    return language is None and unquote(uri).endswith((".py", ".pyi"))


def _path_of(uri: str) -> Path | None:
    if not uri.startswith("file:"):
        return None
    path = to_fs_path(uri)
    return Path(path) if path else None


def _supports(capabilities: types.ClientCapabilities | None, dotted: str) -> bool:
    value: Any = capabilities
    for name in dotted.split("."):
        value = getattr(value, name, None)
        if value is None:
            return False
    return bool(value)


# ---------------------------------------------------------------------------- code actions


def _text_edit(target: Target, change: TextChange, encoding: str, shift: int = 0) -> types.TextEdit:
    return types.TextEdit(
        range=target.client_range(change.start + shift, change.end + shift, encoding),
        new_text=change.content,
    )


def _fix_edits(
    target: Target, diagnostic: Diagnostic, encoding: str
) -> list[types.TextEdit] | None:
    fix = diagnostic.fix
    if fix is None or not fix.edits:
        return None
    if target.cell_index is not None:
        blocked = magic_rows(target.text)
        if any(
            row in blocked
            for edit in fix.edits
            for row in range(edit.location.row, edit.end_location.row + 1)
        ):
            return None
    edits = []
    for edit in fix.edits:
        start = target.offset(edit.location.row, edit.location.column)
        end = target.offset(edit.end_location.row, edit.end_location.column)
        edits.append(
            types.TextEdit(range=target.client_range(start, end, encoding), new_text=edit.content)
        )
    return edits


def _range_key(value: types.Range) -> tuple[int, int, int, int]:
    return (value.start.line, value.start.character, value.end.line, value.end.character)


def _wanted(only: list[str] | None, kind: str) -> bool:
    return not only or any(kind == o or kind.startswith(o + ".") for o in only)


def code_actions(
    report: Report, uri: str, params: types.CodeActionParams, encoding: str
) -> list[types.CodeAction]:
    """Quick fixes and noqa for the diagnostics in the range (or named by the client's
    context), and the document's fix-all."""
    target = report.targets.get(uri)
    if target is None:
        return []
    request, only = params.range, params.context.only
    low = target.index.from_client(request.start.line, request.start.character, encoding)
    high = target.index.from_client(request.end.line, request.end.character, encoding)
    named = {(str(d.code), _range_key(d.range)) for d in params.context.diagnostics}
    actions: list[types.CodeAction] = []
    quick = _wanted(only, types.CodeActionKind.QuickFix)
    for diagnostic, lsp in target.found:
        start, end = target.span(diagnostic)
        touched = start <= high and low <= end
        if not quick or not (touched or (diagnostic.code, _range_key(lsp.range)) in named):
            continue
        edits = _fix_edits(target, diagnostic, encoding)
        if edits and diagnostic.fix is not None:
            safe = diagnostic.fix.applicability == "safe"
            title = f"{diagnostic.fix.message} ({diagnostic.code}{'' if safe else ', unsafe'})"
            actions.append(
                types.CodeAction(
                    title=title,
                    kind=types.CodeActionKind.QuickFix,
                    diagnostics=[lsp],
                    is_preferred=safe,
                    edit=types.WorkspaceEdit(changes={uri: edits}),
                )
            )
        if diagnostic.code != PARSE_ERROR:
            change = noqa_edit(
                target.text.removeprefix("\ufeff"), diagnostic.location.row, diagnostic.code
            )
            if change is not None:
                shift = 1 if target.text.startswith("\ufeff") else 0
                actions.append(
                    types.CodeAction(
                        title=f"Disable {diagnostic.code} for this line",
                        kind=types.CodeActionKind.QuickFix,
                        diagnostics=[lsp],
                        edit=types.WorkspaceEdit(
                            changes={uri: [_text_edit(target, change, encoding, shift)]}
                        ),
                    )
                )
    if only and target.cell_index is not None and _wanted(only, NOTEBOOK_FIX_ALL_KIND):
        fix = notebook_fix_all_action(report, encoding)
        if fix is not None:
            actions.append(fix)
    if _wanted(only, FIX_ALL_KIND):
        fix = fix_all_action(report, target, encoding)
        if fix is not None:
            actions.append(fix)
    return actions


def fix_all_action(report: Report, target: Target, encoding: str) -> types.CodeAction | None:
    """`source.fixAll.kerlint`: every safe fix of the document (of the cell, in a notebook)."""
    if not any(applicable(d, unsafe=False) for d, _ in target.found):
        return None
    result = report.checked.result
    source = result.source
    if source is None:
        return None
    shift = 0
    if target.cell_index is None:
        try:
            data = source.text.encode(source.encoding)
        except (UnicodeEncodeError, LookupError):
            return None
        fixed = fix_all(result, report.checked.codes, data)
        if fixed is None or fixed.source is None:
            return None
        before, after = source.text, fixed.source.text
        shift = 1 if target.text.startswith("\ufeff") else 0
    else:
        if report.data is None:
            return None
        fixed = fix_all(result, report.checked.codes, report.data)
        if fixed is None:
            return None
        before, after = target.text, fixed_cells(fixed).get(target.cell_index, target.text)
    change = minimal_change(before, after)
    if change is None:
        return None
    return types.CodeAction(
        title="Fix all auto-fixable kerlint problems",
        kind=FIX_ALL_KIND,
        edit=types.WorkspaceEdit(
            changes={target.uri: [_text_edit(target, change, encoding, shift)]}
        ),
    )


def notebook_fix_all_action(report: Report, encoding: str) -> types.CodeAction | None:
    """`notebook.source.fixAll.kerlint` (asked for explicitly): the safe fixes of every cell."""
    if report.data is None or not any(
        applicable(d, unsafe=False) for t in report.targets.values() for d, _ in t.found
    ):
        return None
    fixed = fix_all(report.checked.result, report.checked.codes, report.data)
    if fixed is None:
        return None
    new_texts = fixed_cells(fixed)
    changes: dict[str, list[types.TextEdit]] = {}
    for target in report.targets.values():
        after = new_texts.get(target.cell_index) if target.cell_index is not None else None
        change = minimal_change(target.text, after) if after is not None else None
        if change is not None:
            changes[target.uri] = [_text_edit(target, change, encoding)]
    if not changes:
        return None
    return types.CodeAction(
        title="Fix all auto-fixable kerlint problems in the notebook",
        kind=NOTEBOOK_FIX_ALL_KIND,
        edit=types.WorkspaceEdit(changes=changes),
    )


def hover(report: Report, uri: str, position: types.Position, encoding: str) -> types.Hover | None:
    """The rule page (`kerlint explain`) of the diagnostics under the cursor, or of a code
    written there (in a `# noqa: KL003`, say)."""
    target = report.targets.get(uri)
    if target is None:
        return None
    at = target.index.from_client(position.line, position.character, encoding)
    codes: list[str] = []
    where: tuple[int, int] | None = None
    for diagnostic, _ in target.found:
        start, end = target.span(diagnostic)
        if start <= at <= end and diagnostic.code != PARSE_ERROR and diagnostic.code not in codes:
            codes.append(diagnostic.code)
            where = (start, end)
    if not codes:
        line = target.index.line(position.line)
        line_start = target.index.starts[min(position.line, len(target.index.starts) - 1)]
        for match in _RULE_CODE.finditer(line):
            if line_start + match.start() <= at <= line_start + match.end():
                codes.append(match.group())
                where = (line_start + match.start(), line_start + match.end())
    pages = [page for page in (rule_page(code) for code in codes) if page]
    if not pages or where is None:
        return None
    return types.Hover(
        contents=types.MarkupContent(
            kind=types.MarkupKind.Markdown, value="\n\n---\n\n".join(pages)
        ),
        range=target.client_range(where[0], where[1], encoding),
    )


# ---------------------------------------------------------------------------- handlers


def create_server() -> KerlintServer:
    server = KerlintServer()

    @server.feature(types.INITIALIZE)
    @_guarded()
    def initialize(ls: KerlintServer, params: types.InitializeParams) -> None:
        root = ls.workspace.root_path
        folders = list(ls.workspace.folders.values())
        if folders and folders[0].uri.startswith("file:"):
            root = to_fs_path(folders[0].uri) or root
        if root:
            ls.project = ProjectSettings(Path(root))
        ls.push = not _supports(params.capabilities, "text_document.diagnostic")
        options = params.initialization_options
        if isinstance(options, dict):
            debounce = options.get("debounceMs")
            if (
                isinstance(debounce, (int, float))
                and not isinstance(debounce, bool)
                and debounce >= 0
            ):
                ls.debounce = debounce / 1000
            if isinstance(options.get("push"), bool):
                ls.push = options["push"]
        logger.info(
            "kerlint %s: encoding %s, %s diagnostics",
            __version__,
            ls.encoding,
            "push" if ls.push else "pull",
        )

    @server.feature(types.INITIALIZED)
    @_guarded()
    def initialized(ls: KerlintServer, params: types.InitializedParams) -> None:
        if not _supports(
            ls.client_capabilities, "workspace.did_change_watched_files.dynamic_registration"
        ):
            return
        watchers = [
            types.FileSystemWatcher(glob_pattern=f"**/{name}")
            for name in ("pyproject.toml", "kerlint.toml")
        ]
        registration = types.Registration(
            id="kerlint-configuration",
            method=types.WORKSPACE_DID_CHANGE_WATCHED_FILES,
            register_options=types.DidChangeWatchedFilesRegistrationOptions(watchers=watchers),
        )
        ls.client_register_capability(types.RegistrationParams(registrations=[registration]))

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    @_guarded()
    def did_open(ls: KerlintServer, params: types.DidOpenTextDocumentParams) -> None:
        if is_config_file(params.text_document.uri):
            return
        ls.schedule(params.text_document.uri, 0)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    @_guarded()
    def did_change(ls: KerlintServer, params: types.DidChangeTextDocumentParams) -> None:
        if is_config_file(params.text_document.uri):
            return
        ls.schedule(params.text_document.uri, ls.debounce)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    @_guarded()
    def did_save(ls: KerlintServer, params: types.DidSaveTextDocumentParams) -> None:
        if is_config_file(params.text_document.uri):
            ls.configuration_changed()
            return
        ls.schedule(params.text_document.uri, 0)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    @_guarded()
    def did_close(ls: KerlintServer, params: types.DidCloseTextDocumentParams) -> None:
        ls.closed(params.text_document.uri)

    @server.feature(types.NOTEBOOK_DOCUMENT_DID_OPEN)
    @_guarded()
    def notebook_open(ls: KerlintServer, params: types.DidOpenNotebookDocumentParams) -> None:
        ls.schedule(params.notebook_document.uri, 0)

    @server.feature(types.NOTEBOOK_DOCUMENT_DID_CHANGE)
    @_guarded()
    def notebook_change(ls: KerlintServer, params: types.DidChangeNotebookDocumentParams) -> None:
        ls.schedule(params.notebook_document.uri, ls.debounce)

    @server.feature(types.NOTEBOOK_DOCUMENT_DID_SAVE)
    @_guarded()
    def notebook_save(ls: KerlintServer, params: types.DidSaveNotebookDocumentParams) -> None:
        ls.schedule(params.notebook_document.uri, 0)

    @server.feature(types.NOTEBOOK_DOCUMENT_DID_CLOSE)
    @_guarded()
    def notebook_close(ls: KerlintServer, params: types.DidCloseNotebookDocumentParams) -> None:
        ls.closed(params.notebook_document.uri)

    @server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    @_guarded()
    def watched_files(ls: KerlintServer, params: types.DidChangeWatchedFilesParams) -> None:
        if any(is_config_file(unquote(change.uri)) for change in params.changes):
            ls.configuration_changed()

    @server.feature(
        types.TEXT_DOCUMENT_DIAGNOSTIC,
        types.DiagnosticOptions(
            identifier="kerlint", inter_file_dependencies=False, workspace_diagnostics=False
        ),
    )
    @_guarded(types.RelatedFullDocumentDiagnosticReport(items=[]))
    async def pull_diagnostics(ls: KerlintServer, params: types.DocumentDiagnosticParams):
        uri = params.text_document.uri
        key = ls.key_for(uri)
        report = await ls.fresh_report(key) if key else None
        if report is None:
            logger.warning("diagnostics asked for %s, which is not open", uri)
            return types.RelatedFullDocumentDiagnosticReport(items=[])
        if params.previous_result_id == report.result_id:
            return types.RelatedUnchangedDocumentDiagnosticReport(result_id=report.result_id)
        target = report.targets.get(uri)
        return types.RelatedFullDocumentDiagnosticReport(
            items=[lsp for _, lsp in target.found] if target else [], result_id=report.result_id
        )

    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(
            code_action_kinds=[types.CodeActionKind.QuickFix, FIX_ALL_KIND, NOTEBOOK_FIX_ALL_KIND]
        ),
    )
    @_guarded([])
    async def code_action(ls: KerlintServer, params: types.CodeActionParams):
        uri = params.text_document.uri
        key = ls.key_for(uri)
        report = await ls.fresh_report(key) if key else None
        if report is None:
            logger.warning("code actions asked for %s, which is not open", uri)
            return []
        return code_actions(report, uri, params, ls.encoding)

    @server.feature(types.TEXT_DOCUMENT_HOVER)
    @_guarded()
    async def on_hover(ls: KerlintServer, params: types.HoverParams):
        uri = params.text_document.uri
        key = ls.key_for(uri)
        report = await ls.fresh_report(key) if key else None
        if report is None:
            return None
        return hover(report, uri, params.position, ls.encoding)

    return server


def serve() -> None:
    """Run the server over stdin and stdout until the client exits or goes away."""
    server = create_server()
    # Everything imported so far lives as long as the server: the collector need not
    # scan it again on every check.
    gc.collect()
    gc.freeze()
    server.start_io()
