"""The API's one body parser: JSON, nested no deeper than API_JSON_MAX_DEPTH.

Python's json module recurses once per array or object: a body of 100,000 `[` made it raise
RecursionError, a 500. Now that is a 400, and so is any body that parses but nests deeper than
the limit, checked by a walk of the parsed value. A model registration's JSON documents
(decisions.serializers) are read the same way.
"""

from __future__ import annotations

import codecs
from typing import Any

from django.conf import settings
from rest_framework import parsers
from rest_framework.exceptions import ParseError
from rest_framework.utils import json


class JsonTooDeep(ValueError):
    def __init__(self, limit: int):
        super().__init__(f"JSON nested deeper than {limit} levels of arrays and objects (API_JSON_MAX_DEPTH)")
        self.limit = limit


def json_loads_bounded(text: str | bytes, *, limit: int | None = None, parse_constant=None) -> Any:
    """json.loads(text), raising JsonTooDeep if it nests arrays and objects deeper than `limit`
    (by default API_JSON_MAX_DEPTH), and ValueError (JSONDecodeError) if it is not JSON."""
    limit = settings.API_JSON_MAX_DEPTH if limit is None else limit
    try:
        value = json.loads(text, parse_constant=parse_constant)
    except RecursionError:
        raise JsonTooDeep(limit) from None
    # Breadth first, one level at a time, without recursion: the parsed value may be deep.
    level, depth = [value], 0
    while level := [v for v in level if isinstance(v, dict | list)]:
        depth += 1
        if depth > limit:
            raise JsonTooDeep(limit)
        level = [child for v in level for child in (v.values() if isinstance(v, dict) else v)]
    return value


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, with the depth bounded."""

    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        body = stream.read() if stream is not None else b""
        try:
            text = codecs.decode(body, encoding)
            parse_constant = json.strict_constant if self.strict else None
            return json_loads_bounded(text, parse_constant=parse_constant)
        except JsonTooDeep as exc:
            raise ParseError(str(exc)) from None
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
