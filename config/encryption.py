"""Encryption at rest of what people write: `EncryptedTextField` stores Fernet tokens
(AES-128-CBC with HMAC-SHA256) under FIELD_ENCRYPTION_KEYS, newest first.

The first key encrypts; every key decrypts, so a key is rotated by putting a new one first,
running `manage.py rotate_field_keys` (which re-encrypts every value still under an older key),
then removing the old one. The database, its dumps and its backups hold no statement or address
in clear.

An empty value is stored as "" in clear, so that "has the person written anything" stays a
query (`exclude(statement="")`). Any other lookup on the column is refused: a token is
randomised, so `statement="..."` could never match and would fail silently.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.apps import apps
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models, transaction
from django.db.models.functions import Cast


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS is empty: no key to encrypt with")
    return MultiFernet([Fernet(key) for key in keys])


def field_fernet() -> MultiFernet:
    """The keys of FIELD_ENCRYPTION_KEYS, newest (the one that encrypts) first."""
    return _fernet(tuple(settings.FIELD_ENCRYPTION_KEYS))


def encrypt(value: str) -> str:
    return field_fernet().encrypt(value.encode()).decode() if value else value


def decrypt(token: str) -> str:
    return field_fernet().decrypt(token.encode()).decode() if token else token


class EncryptedTextField(models.TextField):
    """Text kept as a Fernet token; reads give the text back."""

    def from_db_value(self, value, expression, connection):
        if not value:
            return value
        try:
            return decrypt(value)
        except InvalidToken:
            raise ImproperlyConfigured(
                f"{self.model._meta.label}.{self.name}: no key of FIELD_ENCRYPTION_KEYS opens a stored value"
            ) from None

    def get_prep_value(self, value):
        # Lookups come here; writes go through get_db_prep_save below.
        value = super().get_prep_value(value)
        if value:
            raise ValueError(f"{self.name} is encrypted: it can only be compared with ''")
        return value

    def get_db_prep_save(self, value, connection):
        if hasattr(value, "as_sql"):  # an expression (bulk_update's CASE): its values come back here
            return value
        value = self.to_python(value)
        return encrypt(value) if value else value


def encrypted_fields() -> Iterator[tuple[type[models.Model], list[str]]]:
    """Every model with encrypted fields, and their names."""
    for model in apps.get_models():
        names = [f.name for f in model._meta.concrete_fields if isinstance(f, EncryptedTextField)]
        if names:
            yield model, names


def rotate_model(model: type[models.Model], names: list[str], *, batch_size: int = 500) -> int:
    """Re-encrypt with the first key every value of `model` under an older one, a batch per
    transaction; return the rows rewritten. Idempotent: a second run rewrites nothing."""
    raw = {f"_raw_{name}": Cast(name, models.TextField()) for name in names}
    rewritten, last = 0, None
    while True:
        with transaction.atomic():
            # Locked: a row erased or edited meanwhile must not get its old text written back.
            rows = model.objects.select_for_update().order_by("pk").only("pk", *names).annotate(**raw)
            if last is not None:
                rows = rows.filter(pk__gt=last)
            batch = list(rows[:batch_size])
            if not batch:
                return rewritten
            last = batch[-1].pk
            stale = [row for row in batch if any(_stale(getattr(row, f"_raw_{n}")) for n in names)]
            # The values read were decrypted; saving them encrypts them with the first key.
            model.objects.bulk_update(stale, names)
        rewritten += len(stale)


def _stale(token: str | None) -> bool:
    if not token:
        return False
    try:
        Fernet(settings.FIELD_ENCRYPTION_KEYS[0]).decrypt(token.encode())
    except InvalidToken:
        return True
    return False
