"""Validating real responses against the app's own `/openapi.json` with a real JSON-Schema
validator (`jsonschema`, Draft 2020-12: the dialect of OpenAPI 3.1), as a generated client
would read them; `date-time` formats are checked (rfc3339-validator)."""

from __future__ import annotations

import copy
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

BASE = "urn:paperfeed:openapi"


def _pointer(*parts: str) -> str:
    return "".join("/" + p.replace("~", "~0").replace("/", "~1") for p in parts)


def closed(spec: dict[str, Any]) -> dict[str, Any]:
    """The spec with every object schema closed (`additionalProperties: false`): a key the server
    sends that the spec does not name fails, so the two cannot drift either way."""
    spec = copy.deepcopy(spec)
    for schema in spec["components"]["schemas"].values():
        if "properties" in schema:
            schema["additionalProperties"] = False
    return spec


def validator(
    spec: dict[str, Any], path: str, status: int = 200, media: str = "application/json", method: str = "get"
) -> Draft202012Validator:
    """A validator of the body the spec declares for `method path` answering `status`."""
    assert str(status) in spec["paths"][path][method]["responses"], (path, status)
    registry: Registry = Registry().with_resource(BASE, Resource.from_contents(spec, DRAFT202012))
    ref = BASE + "#" + _pointer("paths", path, method, "responses", str(status), "content", media, "schema")
    return Draft202012Validator(
        {"$ref": ref}, registry=registry, format_checker=Draft202012Validator.FORMAT_CHECKER
    )


def problems(check: Draft202012Validator, body: Any) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in check.iter_errors(body)]
