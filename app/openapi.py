"""The OpenAPI document: who needs a token, which problems each route answers, closed bodies."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import msgspec
from litestar.openapi import OpenAPIConfig, ResponseSpec
from litestar.openapi.spec import (
    Components,
    OpenAPIFormat,
    OpenAPIType,
    Schema,
    SecurityRequirement,
    SecurityScheme,
)
from litestar.plugins import OpenAPISchemaPlugin

from app.problems import MEDIA_TYPE, TITLES, Problem

if TYPE_CHECKING:
    from litestar._openapi.schema_generation import SchemaCreator
    from litestar.typing import FieldDefinition

# Routes behind a token carry this requirement (factory.py puts them in one router); the public
# ones (/health, /ready, the docs) carry none, and the document has no global requirement.
BEARER: list[SecurityRequirement] = [{"BearerToken": []}]

# Statuses shared by kinds of route: every route behind a token (no token, wrong role); every
# write (POST, PUT, PATCH, DELETE), which is rate limited per user; every command, which also
# checks its parameters, may meet a concurrent change and refuses a reused Idempotency-Key;
# and every route that reads a JSON body (malformed, too large).
TOKEN = (401, 403)
WRITE = (*TOKEN, 429)
COMMAND = (*WRITE, 400, 409, 422)
BODY = (400, 413)


def problems(*statuses: int) -> dict[int, ResponseSpec]:
    """`responses=` for a route: each status it may answer, as an RFC 9457 problem document."""
    return {
        status: ResponseSpec(
            data_container=Problem,
            description=TITLES[status],
            media_type=MEDIA_TYPE,
            generate_examples=False,
        )
        for status in sorted(set(statuses))
    }


def openapi_config() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="TradAI Backend",
        version="0.1.0",
        description="Event-sourced backtests, strategy catalog and promotion workflow.",
        components=Components(
            security_schemes={
                "BearerToken": SecurityScheme(type="http", scheme="bearer", bearer_format="JWT")
            }
        ),
    )


class ClosedBodySchemas(OpenAPISchemaPlugin):
    """Documents a request body that refuses unknown fields (a msgspec Struct with
    `forbid_unknown_fields`) with msgspec's own JSON Schema for it: the library that decodes the
    body describes it, so the document says `additionalProperties: false` and keeps every bound
    (Litestar's generic schema drops bounds of 0 and the bounds of list items)."""

    def is_plugin_supported_field(self, field_definition: FieldDefinition) -> bool:
        return (
            not field_definition.is_union
            and field_definition.is_subclass_of(msgspec.Struct)
            and field_definition.type_.__struct_config__.forbid_unknown_fields
        )

    def to_openapi_schema(
        self, field_definition: FieldDefinition, schema_creator: SchemaCreator
    ) -> Schema:
        (ref,), components = msgspec.json.schema_components(
            (field_definition.type_,), ref_template="#/components/schemas/{name}"
        )
        document = _resolve(ref, components)
        built = _schema(document, components)
        # Registered under the type, so the body is a reference to components/schemas.
        schema = schema_creator.create_component_schema(
            field_definition, required=list(document.get("required", [])), property_fields={}
        )
        for name in ("title", "description", "properties", "additional_properties"):
            setattr(schema, name, getattr(built, name))
        return schema


_ALIASES = Schema.field_aliases()
_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")
_NESTED_ONE = {"items", "additionalProperties", "not", "contains", "propertyNames"}
_NESTED_MANY = {"anyOf", "oneOf", "allOf", "prefixItems"}


def _resolve(document: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in document:
        document = components[document["$ref"].rsplit("/", 1)[1]]
    return document


def _schema(document: dict[str, Any], components: dict[str, Any]) -> Schema:
    """A JSON Schema (msgspec's output) as Litestar's spec object; nested types inlined."""
    return Schema(
        **{
            _ALIASES.get(key) or _CAMEL.sub("_", key).lower(): _value(key, value, components)
            for key, value in _resolve(document, components).items()
        }
    )


def _value(key: str, value: Any, components: dict[str, Any]) -> Any:
    if key == "properties":
        return {name: _schema(item, components) for name, item in value.items()}
    if key in _NESTED_ONE and isinstance(value, dict):
        return _schema(value, components)
    if key in _NESTED_MANY:
        return [_schema(item, components) for item in value]
    if key == "type":
        return [OpenAPIType(t) for t in value] if isinstance(value, list) else OpenAPIType(value)
    if key == "format":
        return OpenAPIFormat(value)
    return value
