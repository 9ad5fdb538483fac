"""Reader of dashboard/static/strings.js for tests: the object literal as a Python dict."""

from __future__ import annotations

import json
import re
from pathlib import Path

STATIC_DIR = Path(__file__).resolve().parents[2] / "dashboard" / "static"

_OPEN = re.compile(r"^export const S = \{$")
_STRING = re.compile(r'^(?P<indent> +)(?P<key>\w+): (?P<value>"(?:[^"\\]|\\.)*"),$')
_OBJECT = re.compile(r"^(?P<indent> +)(?P<key>\w+): \{$")
_INLINE_OBJECT = re.compile(r"^ +(?P<key>\w+): \{ (?P<pairs>.*) \},$")
_PAIR = re.compile(r'(\w+): ("(?:[^"\\]|\\.)*")(?:, |$)')
_CLOSE = re.compile(r"^(?P<indent> *)\},?;?$")


def read_strings(path: Path = STATIC_DIR / "strings.js") -> dict[str, str | dict[str, str]]:
    """Parse the `S` object of strings.js: top-level strings and one level of nested objects,
    written over several lines or inline (`key: { one: "…", other: "…" },`).

    Raises ValueError on a line of the object that is neither a string, a nested object, a
    closing brace, a comment nor blank, so a format the parser does not know fails loudly.
    """
    strings: dict[str, str | dict[str, str]] = {}
    nested: dict[str, str] | None = None
    inside = False
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not inside:
            inside = bool(_OPEN.match(line))
            continue
        stripped = line.strip()
        if not stripped or stripped.startswith("//"):
            continue
        if match := _STRING.match(line):
            target = strings if nested is None else nested
            target[match["key"]] = json.loads(match["value"])
        elif (match := _INLINE_OBJECT.match(line)) and nested is None:
            pairs = _PAIR.findall(match["pairs"])
            if ", ".join(f"{key}: {value}" for key, value in pairs) != match["pairs"]:
                raise ValueError(f"{path}:{number}: unexpected inline object: {line!r}")
            strings[match["key"]] = {key: json.loads(value) for key, value in pairs}
        elif (match := _OBJECT.match(line)) and nested is None:
            nested = {}
            strings[match["key"]] = nested
        elif _CLOSE.match(line):
            if nested is None:
                return strings
            nested = None
        else:
            raise ValueError(f"{path}:{number}: unexpected line in the strings object: {line!r}")
    raise ValueError(f"{path}: no complete `export const S = {{ … }};` object found")
