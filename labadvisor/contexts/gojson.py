"""Encode JSON the way Go's ``json.MarshalIndent(v, "", "\\t")`` does, as the docker CLI writes
config.json, so a file we rewrite is byte-identical to one the CLI would leave."""

from __future__ import annotations

import json
from typing import Any

# Go's encoder escapes these even inside UTF-8 output (HTML safety and JS line separators).
_GO_ESCAPES = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}
_GO_ESCAPE_TABLE = str.maketrans(_GO_ESCAPES)


def dumps(value: Any) -> str:
    """Tab-indented, ``": "`` separators, raw UTF-8, no trailing newline, like the CLI."""
    text = json.dumps(value, indent="\t", ensure_ascii=False, separators=(",", ": "))
    # The characters Go escapes cannot occur outside strings in JSON text, so a plain
    # translation over the whole document only touches string contents.
    return text.translate(_GO_ESCAPE_TABLE)
