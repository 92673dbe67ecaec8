"""The API's one body parser: JSON, nested no deeper than API_JSON_MAX_DEPTH.

Python's json module recurses once per array or object, so a body of 100,000 `[` made it raise
RecursionError, a 500. The depth is measured before parsing, in a few passes of bytes methods
over the body (no Python loop per byte: checking a 1.6 MB bulk takes a quarter of parsing it),
and a body over the limit is a 400 that names it. A model registration's JSON documents
(decisions.serializers) go through the same check.
"""

from __future__ import annotations

import codecs
import re

from django.conf import settings
from rest_framework import parsers
from rest_framework.exceptions import ParseError
from rest_framework.utils import json

# What the depth depends on: brackets, and the quotes that tell whether a bracket is in a string.
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b'[]{}"')
_BRACKETS = bytes.maketrans(b"{}", b"[]")  # depth does not care which kind nests which
# A string of the reduced text, where only brackets can be left between its quotes.
_STRING = re.compile(rb'"[^"]*"')


class JsonTooDeep(ValueError):
    def __init__(self, limit: int):
        super().__init__(f"JSON nested deeper than {limit} levels of arrays and objects (API_JSON_MAX_DEPTH)")
        self.limit = limit


def json_depth_check(text: bytes | str, *, limit: int | None = None) -> None:
    """Raise JsonTooDeep if `text` nests arrays and objects deeper than `limit` (by default
    API_JSON_MAX_DEPTH). Exact for valid JSON; a text whose brackets do not balance outside its
    strings is never valid JSON, and raises ValueError as the parser would."""
    limit = settings.API_JSON_MAX_DEPTH if limit is None else limit
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    if data.count(b"[") + data.count(b"{") <= limit:
        return  # the common case: too few brackets to nest deeper, whatever their order
    if b"\\" in data:
        # Escapes: pairs of backslashes first (left to right, as a JSON reader pairs them), then
        # escaped quotes, so that every quote left opens or closes a string.
        data = data.replace(b"\\\\", b"").replace(b'\\"', b"")
    # Only quotes and brackets are left. A pair of adjacent quotes has no bracket between them:
    # dropping it keeps every other bracket's side of the string boundaries, and leaves few
    # strings (those holding brackets) for the regular expression.
    reduced = data.translate(None, _NOT_STRUCTURE).replace(b'""', b"")
    if b'"' in reduced:
        reduced = _STRING.sub(b"", reduced)
    brackets = reduced.translate(_BRACKETS)
    # Each pass removes the innermost pairs, one level of every branch at once: what is left
    # after `limit` passes nests deeper than `limit`.
    for _ in range(limit):
        if not brackets:
            return
        brackets = brackets.replace(b"[]", b"")
    if not brackets:
        return
    if b"[]" in brackets:
        raise JsonTooDeep(limit)
    raise ValueError("brackets do not balance")


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, with the depth bounded before json.loads sees the body."""

    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        body = stream.read() if stream is not None else b""
        try:
            text = codecs.decode(body, encoding)
            # The bytes themselves where they are UTF-8 (nearly always: RFC 8259); in another
            # encoding a bracket's byte can be part of another character, so the text is checked.
            json_depth_check(body if codecs.lookup(encoding).name == "utf-8" else text)
            parse_constant = json.strict_constant if self.strict else None
            return json.loads(text, parse_constant=parse_constant)
        except JsonTooDeep as exc:
            raise ParseError(str(exc)) from None
        except (ValueError, RecursionError) as exc:
            # No RecursionError gets past the depth check (unless API_JSON_MAX_DEPTH is set near
            # Python's recursion limit); caught all the same, so that it is never a 500.
            raise ParseError(f"JSON parse error - {exc}") from None
