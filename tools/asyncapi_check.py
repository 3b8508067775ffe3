#!/usr/bin/env python3
"""Checks of the AsyncAPI document of the shop's events (asyncapi/events.yaml) and of the HTML that
`make docs` builds.

    python tools/asyncapi_check.py                      # the document is valid AsyncAPI 3.0
    python tools/asyncapi_check.py html openapi/html/*.html   # the pages load nothing from elsewhere

The tests use `EventCatalogue` to validate the events they capture on the broker against the
document's payload schemas (tests/e2e/test_events_match_asyncapi.py).
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import yaml

ROOT = Path(__file__).resolve().parent.parent
DOCUMENT = ROOT / "asyncapi" / "events.yaml"
#: The official JSON Schema of AsyncAPI 3.0.0 (@asyncapi/specs, schemas/3.0.0-without-$id.json),
#: vendored so the check runs offline (asyncapi/schema/README.md).
META_SCHEMA = ROOT / "asyncapi" / "schema" / "asyncapi-3.0.0.json"


def load(path: Path = DOCUMENT) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(path.read_text())
    return document


def structure_problems(document: dict[str, Any]) -> list[str]:
    """What makes the document invalid AsyncAPI 3.0.0, and `$ref`s that point nowhere."""
    meta = json.loads(META_SCHEMA.read_text())
    problems = [
        f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message[:300]}"
        for e in jsonschema.Draft7Validator(meta).iter_errors(document)
    ]
    for ref in _refs(document):
        try:
            resolve(document, ref)
        except (KeyError, IndexError, ValueError):
            problems.append(f"$ref {ref} points nowhere")
    return problems


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def resolve(document: dict[str, Any], ref: str) -> Any:
    if not ref.startswith("#/"):
        raise ValueError(f"only local references: {ref}")
    node: Any = document
    for raw in ref[2:].split("/"):
        part = raw.replace("~1", "/").replace("~0", "~")
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def _deref(document: dict[str, Any], node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        node = resolve(document, node["$ref"])
    return node


@dataclass(frozen=True)
class EventType:
    name: str
    topic: str
    payload: jsonschema.protocols.Validator
    key: jsonschema.protocols.Validator


class EventCatalogue:
    """The event types the document describes, per topic, with validators of payload and key."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.types: dict[tuple[str, str], EventType] = {}
        for channel in document["channels"].values():
            topic = channel["address"]
            for entry in channel["messages"].values():
                message = _deref(document, entry)
                payload = self._validator(message["payload"])
                key = self._validator(message["bindings"]["kafka"]["key"])
                self.types[(topic, message["name"])] = EventType(message["name"], topic, payload, key)

    def _validator(self, schema: dict[str, Any]) -> jsonschema.protocols.Validator:
        # References resolve against a root that carries the document's components.
        root = {**schema, "components": self.document.get("components", {})}
        jsonschema.Draft7Validator.check_schema(root)
        return jsonschema.Draft7Validator(root, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)

    @property
    def topics(self) -> set[str]:
        return {topic for topic, _ in self.types}

    def names(self, topic: str) -> set[str]:
        return {name for t, name in self.types if t == topic}

    def problems(self, topic: str, key: str | None, event: Any) -> list[str]:
        """Why an event read from `topic` with `key` does not match the document (empty: it does)."""
        if not isinstance(event, dict):
            return [f"not a JSON object: {event!r}"]
        kind = self.types.get((topic, str(event.get("type"))))
        if kind is None:
            return [f"event type {event.get('type')!r} on {topic} is not in the document"]
        found = [
            f"{'/'.join(map(str, e.absolute_path)) or '(event)'}: {e.message}" for e in kind.payload.iter_errors(event)
        ]
        found += [f"key {key!r}: {e.message}" for e in kind.key.iter_errors(key)]
        return found


#: A script or a style sheet fetched from anywhere but the page itself.
_EXTERNAL = re.compile(
    r"<script\b[^>]*\bsrc\s*=\s*[\"']?(?:https?:)?//|<link\b[^>]*\bhref\s*=\s*[\"']?(?:https?:)?//|@import\s+(?:url\()?[\"']?(?:https?:)?//",
    re.IGNORECASE,
)


def html_problems(path: Path) -> list[str]:
    """Why an HTML page built by `make docs` would not work offline or would call home."""
    text = path.read_text(errors="replace")
    problems = [f"{path}: loads {m.group(0)!r}" for m in _EXTERNAL.finditer(text)]
    if "<script" not in text:
        problems.append(f"{path}: no inline script: not a Redoc page")
    if '"disableTelemetry":true' not in text:
        problems.append(f"{path}: Redoc's telemetry is not disabled")
    return problems


def main(argv: list[str]) -> int:
    if argv[:1] == ["html"]:
        pages = [Path(p) for p in argv[1:]]
        problems = [p for page in pages for p in html_problems(page)] if pages else ["no HTML pages given"]
    else:
        document = load(Path(argv[0]) if argv else DOCUMENT)
        problems = structure_problems(document)
        if not problems:
            EventCatalogue(document)  # every payload schema compiles
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
