"""Cursor pagination that refuses what it cannot read with a 400 naming the parameter.

DRF's own answers a cursor it cannot decode with a 404, takes any position a decoded cursor
holds to the database (a NUL or a date that is not one failed there: a 500), and reads an
unusable `page_size` as "the default" or "the maximum" without saying so.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import pagination
from rest_framework.exceptions import NotFound, ValidationError

INVALID_CURSOR = "invalid cursor: send back a next or previous link as it came"


class CursorPagination(pagination.CursorPagination):
    page_size_query_param = "page_size"
    max_page_size = 500

    def paginate_queryset(self, queryset, request, view=None):
        # decode_cursor checks the position against the first ordering field, which it needs
        # the model to find.
        self._model = queryset.model
        return super().paginate_queryset(queryset, request, view)

    def decode_cursor(self, request):
        try:
            cursor = super().decode_cursor(request)
        except NotFound:
            raise ValidationError({self.cursor_query_param: INVALID_CURSOR}) from None
        if cursor is not None and cursor.position is not None:
            self._check_position(cursor.position)
        return cursor

    def _check_position(self, position: str) -> None:
        field = self._model._meta.get_field(self.ordering[0].lstrip("-"))
        try:
            if any(ord(c) < 32 or 0x7F <= ord(c) <= 0x9F for c in position):  # PostgreSQL refuses NUL
                raise ValueError(position)
            field.get_prep_value(position)
        except (DjangoValidationError, TypeError, ValueError):
            raise ValidationError({self.cursor_query_param: INVALID_CURSOR}) from None

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= self.max_page_size:
            raise ValidationError(
                {self.page_size_query_param: f"must be a whole number from 1 to {self.max_page_size}"}
            )
        return int(raw)
