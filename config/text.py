"""Text the API and the pages accept: no control characters.

PostgreSQL refuses a NUL in a text or jsonb value (a 500 where it got through), and the other
control characters have no place in a name, a reference or a statement: they only reach a log
or a terminal to rewrite what it shows. Tab, line feed and carriage return stay allowed where a
person writes lines (a statement, a rationale).
"""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.deconstruct import deconstructible
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

_LINE = re.compile("[\x00-\x1f\x7f]")
_LINES = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
MESSAGE = "must not contain control characters"


def control_characters(value: str, *, multiline: bool = False) -> bool:
    return (_LINES if multiline else _LINE).search(value) is not None


def json_control_characters(value: Any, where: str = "") -> str | None:
    """Where a JSON value holds a control character in a key or a string (None if nowhere):
    `a.b.0` names the place. Tab, line feed and carriage return are allowed."""
    stack = [(value, where)]
    while stack:
        item, path = stack.pop()
        if isinstance(item, str):
            if control_characters(item, multiline=True):
                return path or "the value"
        elif isinstance(item, dict):
            for key, child in item.items():
                if isinstance(key, str) and control_characters(key, multiline=True):
                    return f"{path}.{key!r}".lstrip(".")
                stack.append((child, f"{path}.{key}".lstrip(".")))
        elif isinstance(item, list):
            stack.extend((child, f"{path}.{i}".lstrip(".")) for i, child in enumerate(item))
    return None


@deconstructible
class NoControlCharacters:
    """A validator for Django and DRF fields; `multiline` allows tab and line breaks."""

    def __init__(self, *, multiline: bool = False):
        self.multiline = multiline

    def __call__(self, value: Any) -> None:
        # A NUL is Django's and DRF's own validator's to name (once, not twice).
        if (
            isinstance(value, str)
            and "\x00" not in value
            and control_characters(value, multiline=self.multiline)
        ):
            raise ValidationError(_("must not contain control characters"), code="control_characters")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, NoControlCharacters) and other.multiline == self.multiline


class TextField(serializers.CharField):
    """A DRF CharField that refuses control characters (DRF's own refuses only NUL): one line,
    or, with `multiline=True`, lines a person wrote."""

    def __init__(self, *, multiline: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.validators.append(NoControlCharacters(multiline=multiline))


class JSONObjectField(serializers.DictField):
    """A DRF DictField whose keys and strings, at any depth, hold no control character."""

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        where = json_control_characters(value)
        if where is not None:
            raise serializers.ValidationError(f"{MESSAGE} (at {where})")
        return value
