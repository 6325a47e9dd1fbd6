"""Checks a JSON request body against a Google API discovery document.

The discovery documents are in ``../shared/fixtures`` (``pubsub.v1.json``,
``logging.v2.json``, ``storage.v1.json``); ``K8SLESS_FIXTURES_DIR`` points
elsewhere. ``validate`` walks the body along the schema: every field must be a
declared property (maps through ``additionalProperties``), of the declared JSON
type, and within the declared ``enum``; ``format: byte`` must be base64.
It returns the list of problems (empty when the body conforms).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def fixtures_dir() -> Path:
    return Path(os.environ.get("K8SLESS_FIXTURES_DIR") or REPO.parent / "shared" / "fixtures")


def load(name: str) -> dict | None:
    path = fixtures_dir() / name
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


_TYPES = {
    "string": str,
    "boolean": bool,
    "object": dict,
    "array": list,
}


def _check(doc: dict, schema: dict, value, where: str, problems: list[str]):
    if "$ref" in schema:
        schema = doc["schemas"][schema["$ref"]]
    kind = schema.get("type")
    if kind in ("integer", "number"):
        ok = (isinstance(value, (int, float)) and not isinstance(value, bool)) or (
            isinstance(value, str) and schema.get("format") in ("int64", "uint64"))
        if not ok:
            problems.append(f"{where}: expected {kind}, got {value!r}")
        return
    if kind == "any" or kind is None and "properties" not in schema:
        return
    expected = _TYPES.get(kind or "object")
    if expected and not isinstance(value, expected):
        problems.append(f"{where}: expected {kind}, got {type(value).__name__}")
        return
    if "enum" in schema and value not in schema["enum"]:
        problems.append(f"{where}: {value!r} is not one of {schema['enum']}")
    if kind == "string" and schema.get("format") == "byte":
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            problems.append(f"{where}: not base64")
    if kind == "array":
        for i, item in enumerate(value):
            _check(doc, schema.get("items", {}), item, f"{where}[{i}]", problems)
    if isinstance(value, dict):
        props = schema.get("properties")
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            if props is not None and key in props:
                _check(doc, props[key], item, f"{where}.{key}", problems)
            elif extra is not None:
                _check(doc, extra, item, f"{where}.{key}", problems)
            elif props is not None:
                problems.append(f"{where}: unknown field {key!r}")


def validate(doc: dict, schema_name: str, body) -> list[str]:
    problems: list[str] = []
    _check(doc, {"$ref": schema_name}, body, schema_name, problems)
    return problems


def method(doc: dict, *path: str) -> dict:
    """The discovery method at resources.<a>.resources.<b>...methods.<m>."""
    node = doc
    for name in path[:-1]:
        node = node["resources"][name]
    return node["methods"][path[-1]]
