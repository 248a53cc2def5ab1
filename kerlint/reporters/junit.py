"""`--output-format junit`: JUnit XML for CI systems that show test reports.

One testsuite; one testcase per file checked (a file without diagnostics passes), and in
it one failure per diagnostic, with the rule code as its type.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from kerlint.diagnostics import Diagnostic, printable
from kerlint.reporters import ReportContext, reporter
from kerlint.reporters.text import where

# Characters XML 1.0 cannot carry, even escaped.
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _clean(text: str) -> str:
    return _INVALID_XML.sub("\ufffd", text)


@reporter("junit")
def junit(diagnostics: list[Diagnostic], context: ReportContext) -> str:
    by_file: dict[str, list[Diagnostic]] = {name: [] for name in context.checked_files}
    for diagnostic in diagnostics:
        by_file.setdefault(diagnostic.filename, []).append(diagnostic)
    suites = ET.Element(
        "testsuites", name="kerlint", tests=str(len(by_file)), failures=str(len(diagnostics))
    )
    suite = ET.SubElement(
        suites,
        "testsuite",
        name="kerlint",
        tests=str(len(by_file)),
        failures=str(len(diagnostics)),
        errors="0",
        skipped="0",
    )
    for filename, found in by_file.items():
        case = ET.SubElement(
            suite, "testcase", name=_clean(printable(filename)), classname="kerlint"
        )
        for diagnostic in found:
            failure = ET.SubElement(
                case,
                "failure",
                message=_clean(f"{diagnostic.code} {printable(diagnostic.full_message)}"),
                type=diagnostic.code,
            )
            failure.text = _clean(
                f"{where(diagnostic)}: {diagnostic.code} {printable(diagnostic.full_message)}"
            )
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode")
