"""`kerlint server` driven through a real LSP client (pygls's) in a subprocess.

Each test starts the server as an editor would (`python -m kerlint server`), speaks the
protocol to it and checks what comes back: diagnostics and their ranges, edits, code
actions, notebooks, configuration changes, and that nothing a client sends kills it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from lsprotocol import types
from pygls.lsp.client import LanguageClient

from kerlint.diagnostics import rule_url

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 30.0

# KL008 on a line with an emoji before the finding (two UTF-16 units, four UTF-8 bytes each),
# KL003 (unsafe fix) further down.
DOCUMENT = """\
import keras
from keras.applications import ResNet50

model = keras.Sequential([keras.layers.Dense(4)])
label = "😀 é"; model.trainable = "False"

base = ResNet50(weights=None, include_top=False)
base.trainable = False
head = keras.Sequential([base, keras.layers.Dense(1)])
head.compile(optimizer="adam", loss="mse")
head.fit(x, y)
base.trainable = True
head.compile(optimizer="adam", loss="mse")
head.fit(x, y)
"""
KL008_LINE, KL003_LINE = 4, 11


def _units(text: str, encoding: str) -> int:
    if encoding == "utf-8":
        return len(text.encode("utf-8"))
    if encoding == "utf-32":
        return len(text)
    return len(text.encode("utf-16-le")) // 2


def _expected_range(text: str, line: int, fragment: str, encoding: str = "utf-16"):
    row = text.splitlines()[line]
    start = row.index(fragment)
    return (
        line,
        _units(row[:start], encoding),
        line,
        _units(row[: start + len(fragment)], encoding),
    )


def _range(diagnostic: types.Diagnostic) -> tuple[int, int, int, int]:
    r = diagnostic.range
    return (r.start.line, r.start.character, r.end.line, r.end.character)


def _offset(text: str, position: types.Position, encoding: str = "utf-16") -> int:
    lines = text.split("\n")
    start = sum(len(line) + 1 for line in lines[: position.line])
    row, counted = lines[position.line] if position.line < len(lines) else "", 0
    for index, char in enumerate(row):
        if counted >= position.character:
            return start + index
        counted += _units(char, encoding)
    return start + len(row)


def apply_edits(text: str, edits, encoding: str = "utf-16") -> str:
    """Apply LSP TextEdits as an editor does (from the end, so offsets stay valid)."""
    spans = [
        (_offset(text, e.range.start, encoding), _offset(text, e.range.end, encoding), e.new_text)
        for e in edits
    ]
    for start, end, new in sorted(spans, reverse=True):
        text = text[:start] + new + text[end:]
    return text


class Editor:
    """One client session: what the server published, and helpers to talk to it."""

    def __init__(self, client: LanguageClient, result: types.InitializeResult) -> None:
        self.client = client
        self.result = result
        self.published: list[types.PublishDiagnosticsParams] = []
        self.registrations: list[types.RegistrationParams] = []

    async def diagnostics(
        self,
        uri: str,
        accept: Callable[[types.PublishDiagnosticsParams], bool] = lambda p: True,
        after: int = 0,
        timeout: float = TIMEOUT,
    ) -> types.PublishDiagnosticsParams:
        """The first publication for `uri` (from index `after` on) that `accept` takes."""
        deadline = time.monotonic() + timeout
        index = after
        while time.monotonic() < deadline:
            while index < len(self.published):
                params = self.published[index]
                index += 1
                if params.uri == uri and accept(params):
                    return params
            await asyncio.sleep(0.01)
        raise AssertionError(f"no matching diagnostics for {uri}: {self.published}")

    def open(self, uri: str, text: str, version: int = 1) -> None:
        self.client.text_document_did_open(
            types.DidOpenTextDocumentParams(types.TextDocumentItem(uri, "python", version, text))
        )

    def change(self, uri: str, text: str, version: int) -> None:
        self.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                types.VersionedTextDocumentIdentifier(version=version, uri=uri),
                [types.TextDocumentContentChangeWholeDocument(text=text)],
            )
        )

    def files_changed(self, *paths: Path) -> None:
        self.client.workspace_did_change_watched_files(
            types.DidChangeWatchedFilesParams(
                [types.FileEvent(path.as_uri(), types.FileChangeType.Changed) for path in paths]
            )
        )

    async def code_actions(
        self, uri: str, at: types.Range, only: list[str] | None = None, diagnostics=()
    ) -> list[types.CodeAction]:
        actions = await self.client.text_document_code_action_async(
            types.CodeActionParams(
                types.TextDocumentIdentifier(uri),
                at,
                types.CodeActionContext(diagnostics=list(diagnostics), only=only),
            )
        )
        return list(actions or [])


def _capabilities(*, encodings=None, pull=False) -> types.ClientCapabilities:
    return types.ClientCapabilities(
        general=types.GeneralClientCapabilities(position_encodings=encodings)
        if encodings
        else None,
        text_document=types.TextDocumentClientCapabilities(
            diagnostic=types.DiagnosticClientCapabilities() if pull else None,
            code_action=types.CodeActionClientCapabilities(),
        ),
        notebook_document=types.NotebookDocumentClientCapabilities(
            synchronization=types.NotebookDocumentSyncClientCapabilities()
        ),
        workspace=types.WorkspaceClientCapabilities(
            did_change_watched_files=types.DidChangeWatchedFilesClientCapabilities(
                dynamic_registration=True
            )
        ),
    )


@contextlib.asynccontextmanager
async def editor(
    root: Path,
    capabilities: types.ClientCapabilities | None = None,
    options: dict | None = None,
    command: tuple[str, ...] = ("-m", "kerlint", "server"),
) -> AsyncIterator[Editor]:
    """`kerlint server` in a subprocess, initialized by pygls's client; shut down after."""
    client = LanguageClient("kerlint-tests", "1")
    session = Editor(client, types.InitializeResult(capabilities=types.ServerCapabilities()))

    @client.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    def on_diagnostics(params: types.PublishDiagnosticsParams) -> None:
        session.published.append(params)

    @client.feature(types.CLIENT_REGISTER_CAPABILITY)
    def on_register(params: types.RegistrationParams) -> None:
        session.registrations.append(params)

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    await client.start_io(sys.executable, *command, cwd=str(root), env=env)
    server = client._server
    try:
        session.result = await asyncio.wait_for(
            client.initialize_async(
                types.InitializeParams(
                    capabilities=capabilities or _capabilities(),
                    root_uri=root.as_uri(),
                    workspace_folders=[types.WorkspaceFolder(root.as_uri(), "project")],
                    initialization_options=options or {"debounceMs": 20},
                )
            ),
            TIMEOUT,
        )
        client.initialized(types.InitializedParams())
        yield session
        assert server.returncode is None, "the server died"
        await asyncio.wait_for(client.shutdown_async(None), 10)
        client.exit(None)
        assert await asyncio.wait_for(server.wait(), 10) == 0
    finally:
        if server.returncode is None:
            server.kill()
            await server.wait()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.stop(), 5)


def run(scenario) -> None:
    asyncio.run(asyncio.wait_for(scenario, 120))


def _by_code(params: types.PublishDiagnosticsParams) -> dict[str, types.Diagnostic]:
    return {str(d.code): d for d in params.diagnostics}


# ---------------------------------------------------------------------------- diagnostics


def test_open_reports_codes_severities_links_and_utf16_ranges(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with editor(tmp_path) as session:
            assert session.result.capabilities.position_encoding == "utf-16"
            uri = (tmp_path / "train.py").as_uri()
            session.open(uri, DOCUMENT)
            found = _by_code(await session.diagnostics(uri))
            assert set(found) == {"KL008", "KL003"}
            kl008, kl003 = found["KL008"], found["KL003"]
            assert _range(kl008) == _expected_range(
                DOCUMENT, KL008_LINE, 'model.trainable = "False"'
            )
            assert _range(kl003) == _expected_range(DOCUMENT, KL003_LINE, "base.trainable = True")
            for diagnostic in (kl008, kl003):
                assert diagnostic.severity == types.DiagnosticSeverity.Warning
                assert diagnostic.source == "kerlint"
                assert diagnostic.code_description.href == rule_url(str(diagnostic.code))
            assert "bool(" in kl008.message

    run(scenario())


@pytest.mark.parametrize("encoding", ["utf-8", "utf-32"])
def test_negotiated_encoding_counts_columns_in_its_units(tmp_path: Path, encoding: str) -> None:
    async def scenario() -> None:
        async with editor(tmp_path, _capabilities(encodings=[encoding, "utf-16"])) as session:
            assert session.result.capabilities.position_encoding == encoding
            uri = (tmp_path / "train.py").as_uri()
            session.open(uri, DOCUMENT)
            kl008 = _by_code(await session.diagnostics(uri))["KL008"]
            fragment = 'model.trainable = "False"'
            expected = _expected_range(DOCUMENT, KL008_LINE, fragment, encoding)
            assert _range(kl008) == expected
            assert expected != _expected_range(DOCUMENT, KL008_LINE, fragment, "utf-16")
            # The edits come in the same units: fix-all leaves the non-ASCII text intact.
            everything = types.Range(types.Position(0, 0), types.Position(20, 0))
            [fix_all] = await session.code_actions(uri, everything, only=["source.fixAll"])
            fixed = apply_edits(DOCUMENT, fix_all.edit.changes[uri], encoding)
            assert fixed == DOCUMENT.replace(fragment, "model.trainable = False")

    run(scenario())


def test_edits_are_checked_unsaved_and_outdated_checks_are_dropped(tmp_path: Path) -> None:
    async def scenario() -> None:
        # A long pause: the burst of edits below must end in one check of the last version.
        async with editor(tmp_path, options={"debounceMs": 300}) as session:
            path = tmp_path / "train.py"
            path.write_text("# nothing on disk\n", encoding="utf-8")
            uri = path.as_uri()
            session.open(uri, DOCUMENT)
            assert set(_by_code(await session.diagnostics(uri))) == {"KL008", "KL003"}
            opened = len(session.published)
            text = DOCUMENT
            for version in range(2, 7):
                text = text.replace("\n", "\n# edit\n", 1)
                session.change(uri, text, version)
            fixed = text.replace('model.trainable = "False"', "model.trainable = False")
            session.change(uri, fixed, 7)
            last = await session.diagnostics(uri, lambda p: p.version == 7)
            assert set(_by_code(last)) == {"KL003"}
            await asyncio.sleep(0.5)  # time enough for any other check to be published
            # The first change is checked at once (the document was quiet); it may be
            # published if it was done before the second arrived. The rest wait for the last.
            assert [p.version for p in session.published[opened:]] in ([7], [2, 7])
            clean = fixed.replace("base.trainable = True", "base.trainable = False")
            session.change(uri, clean, 8)
            assert (await session.diagnostics(uri, lambda p: p.version == 8)).diagnostics == ()
            # Saving checks again (the configuration may have changed meanwhile).
            count = len(session.published)
            session.client.text_document_did_save(
                types.DidSaveTextDocumentParams(types.TextDocumentIdentifier(uri))
            )
            assert (await session.diagnostics(uri, after=count)).version == 8

    run(scenario())


def test_a_check_in_flight_for_an_old_version_is_not_published(tmp_path: Path) -> None:
    async def scenario() -> None:
        # No pause at all: version 2's check starts at once and is still running (a long
        # document) when version 3 arrives; only version 3's result may be published.
        async with editor(tmp_path, options={"debounceMs": 0}) as session:
            uri = (tmp_path / "train.py").as_uri()
            # ~0.8 s to check here: far longer than the 50 ms before the next version.
            long = DOCUMENT + "".join(f"v{i} = keras.layers.Dense({i})\n" for i in range(10_000))
            session.open(uri, "import keras\n")
            await session.diagnostics(uri)
            opened = len(session.published)
            session.change(uri, long, 2)
            await asyncio.sleep(0.05)
            session.change(uri, "import keras\n", 3)
            await session.diagnostics(uri, lambda p: p.version == 3, after=opened)
            await asyncio.sleep(0.5)
            assert [p.version for p in session.published[opened:]] == [3]

    run(scenario())


def test_pull_diagnostics_answer_and_no_push(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with editor(tmp_path, _capabilities(pull=True)) as session:
            assert session.result.capabilities.diagnostic_provider is not None
            uri = (tmp_path / "train.py").as_uri()
            session.open(uri, DOCUMENT)

            def ask(previous: str | None = None):
                return session.client.text_document_diagnostic_async(
                    types.DocumentDiagnosticParams(
                        types.TextDocumentIdentifier(uri), previous_result_id=previous
                    )
                )

            report = await ask()
            assert {str(d.code) for d in report.items} == {"KL008", "KL003"}
            assert (await ask(report.result_id)).kind == "unchanged"
            session.change(uri, DOCUMENT.replace('"False"', "False"), 2)
            assert {str(d.code) for d in (await ask(report.result_id)).items} == {"KL003"}
            await asyncio.sleep(0.2)
            assert session.published == []  # a pulling client is not pushed to as well

    run(scenario())


# ---------------------------------------------------------------------------- code actions


def test_quick_fixes_noqa_fix_all_and_hover(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with editor(tmp_path) as session:
            uri = (tmp_path / "train.py").as_uri()
            session.open(uri, DOCUMENT)
            found = _by_code(await session.diagnostics(uri))
            kl008, kl003 = found["KL008"], found["KL003"]

            actions = await session.code_actions(uri, kl008.range, diagnostics=[kl008])
            titles = [a.title for a in actions]
            quick = [a for a in actions if a.kind == "quickfix" and a.is_preferred]
            assert len(quick) == 1 and "KL008" in quick[0].title, titles
            assert "Disable KL008 for this line" in titles
            [fix_all] = [a for a in actions if a.kind == "source.fixAll.kerlint"]

            fixed = apply_edits(DOCUMENT, quick[0].edit.changes[uri])
            assert fixed == DOCUMENT.replace('model.trainable = "False"', "model.trainable = False")
            session.change(uri, fixed, 2)
            after = await session.diagnostics(uri, lambda p: p.version == 2)
            assert set(_by_code(after)) == {"KL003"}

            # Fix-all applies the safe fixes, never the unsafe KL003 one.
            assert apply_edits(DOCUMENT, fix_all.edit.changes[uri]) == fixed

            # An unsafe fix is offered only as a quick fix of its own, marked as such; the
            # cursor on the finding is enough (no diagnostics in the context).
            cursor = types.Range(kl003.range.start, kl003.range.start)
            offered = await session.code_actions(uri, cursor, only=["quickfix"])
            unsafe = [a for a in offered if "unsafe" in a.title]
            assert len(unsafe) == 1 and not unsafe[0].is_preferred
            assert all(a.kind == "quickfix" for a in offered)
            assert await session.code_actions(uri, cursor, only=["source.fixAll"]) == []

            # "Disable KL003 for this line" writes the noqa, and the finding is gone.
            [noqa] = [
                a
                for a in await session.code_actions(uri, cursor)
                if a.title == "Disable KL003 for this line"
            ]
            silenced = apply_edits(fixed, noqa.edit.changes[uri])
            assert "\nbase.trainable = True  # noqa: KL003\n" in silenced
            session.change(uri, silenced, 3)
            assert (await session.diagnostics(uri, lambda p: p.version == 3)).diagnostics == ()

            # Hover on a finding shows its rule page (`kerlint explain`).
            session.change(uri, DOCUMENT, 4)
            await session.diagnostics(uri, lambda p: p.version == 4)
            shown = await session.client.text_document_hover_async(
                types.HoverParams(types.TextDocumentIdentifier(uri), kl008.range.start)
            )
            assert shown.contents.value.startswith("# KL008")

    run(scenario())


# ---------------------------------------------------------------------------- notebooks


def _notebook(uri: str, cells: list[tuple[str, bool, str]]) -> types.DidOpenNotebookDocumentParams:
    """A notebook of (cell uri, is code, text) cells."""
    code, markup = types.NotebookCellKind.Code, types.NotebookCellKind.Markup
    return types.DidOpenNotebookDocumentParams(
        notebook_document=types.NotebookDocument(
            uri=uri,
            notebook_type="jupyter-notebook",
            version=1,
            cells=[
                types.NotebookCell(kind=code if is_code else markup, document=cell)
                for cell, is_code, _ in cells
            ],
        ),
        cell_text_documents=[
            types.TextDocumentItem(cell, "python" if is_code else "markdown", 1, text)
            for cell, is_code, text in cells
        ],
    )


def test_notebook_diagnostics_land_on_their_cell_and_line(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with editor(tmp_path) as session:
            notebook = (tmp_path / "train.ipynb").as_uri()
            cell = [f"vscode-notebook-cell:{tmp_path}/train.ipynb#C{i}" for i in range(4)]
            last = '%matplotlib inline\nnote = "😀"; model.layers[0].trainable = "False"\n'
            build = "import keras\nmodel = keras.Sequential([keras.layers.Dense(2)])\n"
            session.client.notebook_document_did_open(
                _notebook(
                    notebook,
                    [
                        (cell[0], False, "# Fine-tuning: `model.trainable = 'no'`"),
                        (cell[1], True, build),
                        (cell[2], False, "Now freeze it."),
                        (cell[3], True, last),
                    ],
                )
            )
            [kl008] = (await session.diagnostics(cell[3])).diagnostics
            assert kl008.code == "KL008"
            fragment = 'model.layers[0].trainable = "False"'
            assert _range(kl008) == _expected_range(last, 1, fragment)
            assert (await session.diagnostics(cell[1])).diagnostics == ()

            # Its quick fix is an edit of that cell, magics untouched.
            actions = await session.code_actions(cell[3], kl008.range, diagnostics=[kl008])
            [quick] = [a for a in actions if a.is_preferred]
            fixed = apply_edits(last, quick.edit.changes[cell[3]])
            assert fixed == last.replace('"False"', "False")
            [fix_all] = [a for a in actions if a.kind == "source.fixAll.kerlint"]
            assert apply_edits(last, fix_all.edit.changes[cell[3]]) == fixed
            # The notebook's own fix-all, asked for explicitly, edits every cell that has fixes.
            everywhere = await session.code_actions(
                cell[1],
                types.Range(types.Position(0, 0), types.Position(0, 0)),
                only=["notebook.source.fixAll"],
            )
            [notebook_fix] = everywhere
            assert list(notebook_fix.edit.changes) == [cell[3]]
            assert apply_edits(last, notebook_fix.edit.changes[cell[3]]) == fixed

            count = len(session.published)
            change = types.NotebookDocumentCellContentChanges(
                document=types.VersionedTextDocumentIdentifier(2, cell[3]),
                changes=[types.TextDocumentContentChangeWholeDocument(fixed)],
            )
            session.client.notebook_document_did_change(
                types.DidChangeNotebookDocumentParams(
                    notebook_document=types.VersionedNotebookDocumentIdentifier(2, notebook),
                    change=types.NotebookDocumentChangeEvent(
                        cells=types.NotebookDocumentCellChanges(text_content=[change])
                    ),
                )
            )
            assert (await session.diagnostics(cell[3], after=count)).diagnostics == ()

            # A cell added before the last one is its own target, at its own line.
            added = f"vscode-notebook-cell:{tmp_path}/train.ipynb#C9"
            count = len(session.published)
            structure = types.NotebookDocumentCellChangeStructure(
                array=types.NotebookCellArrayChange(
                    start=3,
                    delete_count=0,
                    cells=[types.NotebookCell(kind=types.NotebookCellKind.Code, document=added)],
                ),
                did_open=[types.TextDocumentItem(added, "python", 1, "\nmodel.trainable = 0\n")],
            )
            session.client.notebook_document_did_change(
                types.DidChangeNotebookDocumentParams(
                    notebook_document=types.VersionedNotebookDocumentIdentifier(3, notebook),
                    change=types.NotebookDocumentChangeEvent(
                        cells=types.NotebookDocumentCellChanges(structure=structure)
                    ),
                )
            )
            [new] = (await session.diagnostics(added, after=count)).diagnostics
            assert (new.code, new.range.start.line) == ("KL008", 1)

    run(scenario())


# ---------------------------------------------------------------------------- configuration


def test_configuration_change_changes_the_selection(tmp_path: Path) -> None:
    async def scenario() -> None:
        config = tmp_path / "pyproject.toml"
        config.write_text('[tool.kerlint]\nignore = ["KL008"]\n', encoding="utf-8")
        package = tmp_path / "pkg"
        package.mkdir()
        async with editor(tmp_path) as session:
            uri = (package / "train.py").as_uri()
            session.open(uri, DOCUMENT)
            assert set(_by_code(await session.diagnostics(uri))) == {"KL003"}
            for _ in range(100):  # the registration arrives on its own time
                if session.registrations:
                    break
                await asyncio.sleep(0.05)
            methods = [r.method for p in session.registrations for r in p.registrations]
            assert methods == [types.WORKSPACE_DID_CHANGE_WATCHED_FILES]

            async def after_change(path: Path, content: str) -> set[str]:
                path.write_text(content, encoding="utf-8")
                count = len(session.published)
                session.files_changed(path)
                return set(_by_code(await session.diagnostics(uri, after=count)))

            assert await after_change(config, '[tool.kerlint]\nselect = ["KL008"]\n') == {"KL008"}
            # A nearer kerlint.toml wins for the files below it, as in `kerlint check`.
            assert await after_change(package / "kerlint.toml", 'select = ["KL003"]\n') == {"KL003"}
            # A broken configuration is said on the document, and the server goes on.
            count = len(session.published)
            assert await after_change(package / "kerlint.toml", "select = [\n") == {"KL000"}
            [problem] = (await session.diagnostics(uri, after=count)).diagnostics
            assert "configuration error" in problem.message

    run(scenario())


def test_excluded_files_get_no_diagnostics_as_in_check(tmp_path: Path) -> None:
    async def scenario() -> None:
        (tmp_path / "pyproject.toml").write_text(
            '[tool.kerlint]\nextend-exclude = ["generated"]\n', encoding="utf-8"
        )
        (tmp_path / "generated").mkdir()
        async with editor(tmp_path) as session:
            uri = (tmp_path / "generated" / "train.py").as_uri()
            session.open(uri, DOCUMENT)
            assert (await session.diagnostics(uri)).diagnostics == ()
            kept = (tmp_path / "train.py").as_uri()
            session.open(kept, DOCUMENT)
            assert len((await session.diagnostics(kept)).diagnostics) == 2

    run(scenario())


# ---------------------------------------------------------------------------- robustness


def _frame(payload: bytes) -> bytes:
    return b"Content-Length: %d\r\n\r\n" % len(payload) + payload


def test_garbage_and_bad_documents_never_kill_the_server(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with editor(tmp_path) as session:
            stdin = session.client._server.stdin
            stdin.write(b"this is not a header\r\n\r\n")
            stdin.write(_frame(b"{not json"))
            stdin.write(_frame(b'{"jsonrpc": "2.0", "id": 99, "method": "textDocument/hover"}'))
            stdin.write(_frame(json.dumps({"jsonrpc": "2.0", "method": "no/suchThing"}).encode()))
            stdin.write(_frame(b"[1, 2, 3]"))
            await stdin.drain()

            # Requests about a document that was never opened are answered, not fatal.
            ghost = (tmp_path / "ghost.py").as_uri()
            nowhere = types.Range(types.Position(0, 0), types.Position(0, 0))
            assert await session.code_actions(ghost, nowhere) == []
            hover = types.HoverParams(types.TextDocumentIdentifier(ghost), types.Position(0, 0))
            assert await session.client.text_document_hover_async(hover) is None
            report = await session.client.text_document_diagnostic_async(
                types.DocumentDiagnosticParams(types.TextDocumentIdentifier(ghost))
            )
            assert tuple(report.items) == ()
            session.change(ghost, DOCUMENT, 5)
            session.client.text_document_did_close(
                types.DidCloseTextDocumentParams(types.TextDocumentIdentifier(ghost))
            )

            bad = {
                "syntax.py": "import keras\nmodel.trainable = (\n",
                "nul.py": "import keras\nx = 1\x00\n",
                "huge.py": "import keras\n" + ("#" * 99 + "\n") * (11 * 1024 * 1024 // 100),
                "surrogate.py": "import keras\nx = '\ud800'\n",
            }
            for name, text in bad.items():
                uri = (tmp_path / name).as_uri()
                session.open(uri, text)
                [problem] = (await session.diagnostics(uri)).diagnostics
                assert problem.code == "KL000", (name, problem)
                assert problem.severity == types.DiagnosticSeverity.Error
                if name == "syntax.py":
                    assert problem.range.start.line >= 1

            # Still alive, and still right.
            uri = (tmp_path / "train.py").as_uri()
            session.open(uri, DOCUMENT)
            assert set(_by_code(await session.diagnostics(uri))) == {"KL008", "KL003"}

    run(scenario())


_CRASHING_RULE = """
from dataclasses import replace
import kerlint.rules as rules

def explode(facts):
    raise RuntimeError("a rule bug")

rules._RULES = tuple(replace(r, check=explode) if r.code == "KL008" else r for r in rules._RULES)
rules._BY_CODE = {r.code: r for r in rules._RULES}
from kerlint.server.lsp import serve
serve()
"""


def test_a_crashing_rule_is_a_kl000_and_the_server_goes_on(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with editor(tmp_path, command=("-c", _CRASHING_RULE)) as session:
            uri = (tmp_path / "train.py").as_uri()
            session.open(uri, DOCUMENT)
            [problem] = (await session.diagnostics(uri)).diagnostics
            assert problem.code == "KL000" and "internal error" in problem.message
            session.change(uri, "import keras\n", 2)
            assert (await session.diagnostics(uri, lambda p: p.version == 2)).diagnostics == ()

    run(scenario())


def test_a_client_that_disconnects_ends_the_server(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "kerlint", "server"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        request = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {"capabilities": {}},
        }
        process.stdin.write(_frame(json.dumps(request).encode()))
        process.stdin.flush()
        assert process.stdout.readline().startswith(b"Content-Length")
        process.stdin.close()  # the editor is gone, without shutdown or exit
        process.wait(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert b"Traceback" not in process.stderr.read()


# ---------------------------------------------------------------------------- the command


def test_without_the_extra_the_command_says_how_to_install_it() -> None:
    code = (
        "import sys; sys.modules['pygls'] = None; sys.modules['lsprotocol'] = None\n"
        "from kerlint.cli import main\nmain(['server'])\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=60,
    )
    assert completed.returncode == 2
    assert "pip install 'kerlint[server]'" in completed.stderr


def test_check_and_help_never_import_the_server(tmp_path: Path) -> None:
    (tmp_path / "bad.py").write_text(DOCUMENT, encoding="utf-8")
    probe = (
        "import sys\nfrom kerlint.cli import main\n"
        "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in ('pygls', 'lsprotocol', 'kerlint.server.lsp') if m in sys.modules))\n"
    )
    for args in (["check", "--no-cache", "bad.py"], ["--help"]):
        completed = subprocess.run(
            [sys.executable, "-c", probe, *args],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            timeout=60,
        )
        assert completed.stdout.splitlines()[-1] == "[]", (args, completed.stdout)
