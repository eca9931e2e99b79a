"""Fields and limits shared by every resource."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from apispec import BasePlugin
from marshmallow import Schema, ValidationError, fields, validate

TEXT_MAX = 10_000
NAME_MAX = 200
TAG_MAX = 50
REASON_MAX = 1_000
EXTERNAL_ID_MAX = 200


class Pattern(validate.Regexp):
    """A regular expression the whole value must match, documented as the field's JSON Schema `pattern`.

    marshmallow's Regexp uses `re.match`, whose `$` also matches before a final line break: "twitter"
    and a line break would pass for a channel. In JSON Schema (ECMA-262) patterns `$` ends the text.
    """

    def __call__(self, value: Any) -> Any:
        if self.regex.fullmatch(value) is None:
            raise ValidationError(self._format_error(value))
        return value


CHANNEL = Pattern(r"^[a-z][a-z0-9_-]{0,31}$", error="a channel is lowercase letters, digits, - or _")


# Control characters other than tab and line breaks: they corrupt logs, CSV exports and terminals.
CONTROL_CHARACTERS = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
# Every character str.strip() removes (str.isspace()), and every control character.
BLANK_OR_CONTROL = r"\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
# The rules of Text as a JSON Schema pattern, so that clients (and the contract tests) know them.
TEXT_PATTERN = f"^[^{CONTROL_CHARACTERS}]*[^{BLANK_OR_CONTROL}][^{CONTROL_CHARACTERS}]*$"
NO_CONTROL_CHARACTERS_PATTERN = f"^[^{CONTROL_CHARACTERS}]*$"


class Text(fields.String):
    """A string that must hold something besides whitespace, within a length limit."""

    def __init__(self, max_length: int, **kwargs: Any) -> None:
        super().__init__(validate=validate.Length(max=max_length), **kwargs)
        self.metadata.setdefault("maxLength", max_length)
        self.metadata.setdefault("minLength", 1)
        self.metadata.setdefault("pattern", TEXT_PATTERN)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        # NFC: the same words typed on two keyboards ("é" as one or two code points) are one text.
        text = unicodedata.normalize("NFC", super()._deserialize(value, attr, data, **kwargs))
        if not text.strip():
            raise ValidationError("must not be empty")
        check_no_control_characters(text)
        return text


_CONTROL_CHARACTER = re.compile(f"[{CONTROL_CHARACTERS}]")


def check_no_control_characters(text: str) -> None:
    if _CONTROL_CHARACTER.search(text):
        raise ValidationError("must not contain control characters (tab and line breaks are fine)")


class NoControlCharacters(Pattern):
    """check_no_control_characters as a validator that also documents the rule as a pattern."""

    def __init__(self) -> None:
        super().__init__(
            NO_CONTROL_CHARACTERS_PATTERN, error="must not contain control characters (tab and line breaks are fine)"
        )


class WholeNumber(fields.Integer):
    """A JSON integer: 5, or 5.0, which JSON Schema counts as the same integer; never "5", true or 5.5."""

    def _validated(self, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.make_error("invalid", input=value)
        if isinstance(value, float) and not value.is_integer():
            raise self.make_error("invalid", input=value)
        return super()._validated(int(value))


def occurred_at(**kwargs: Any) -> fields.AwareDateTime:
    """When it happened on the channel: RFC 3339 with an offset; defaults to now."""
    return fields.AwareDateTime(
        metadata={"description": "When it happened on the channel (RFC 3339 with offset); defaults to now"},
        **kwargs,
    )


class Actor(Schema):
    kind = fields.String(required=True, metadata={"enum": ["agent", "customer", "system"]})
    id = fields.String(allow_none=True)
    name = fields.String(allow_none=True)


class Recorded(Schema):
    """Something that happened: when, and who did it."""

    occurred_at = fields.AwareDateTime()
    actor = fields.Nested(Actor)


def page_of(row: type[Schema], name: str) -> type[Schema]:
    """A page of a keyset-paginated list: its rows, and the cursor of the next page (null on the last)."""
    return Schema.from_dict(
        {"items": fields.List(fields.Nested(row)), "next_cursor": fields.String(allow_none=True)}, name=name
    )


class SchemaRulesDocs(BasePlugin):  # type: ignore[misc]
    """Adds a schema's `Meta.json_schema` to its OpenAPI component: the rules about a whole object
    that marshmallow validates in code but cannot describe (such as "at least one member")."""

    def schema_helper(self, name: str, definition: dict[str, Any], **kwargs: Any) -> dict[str, Any] | None:
        rules = getattr(getattr(kwargs.get("schema"), "Meta", None), "json_schema", None)
        return dict(rules) if rules else None
