"""API keys for integrating systems and staff accounts: created and revoked with their audit
events. A key is shown once; only its hash is stored (decisions.credentials)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from audit.models import Action
from audit.services import Actor, audit_record
from config.errors import ApplicationError

from .auth import ROLES
from .credentials import new_api_key, secret_hash
from .models import ApiKey
from .receivers import acting_as


@transaction.atomic
def api_key_create(*, name: str, actor: Actor) -> tuple[ApiKey, str]:
    """Create a key; the raw key is returned once and only its hash is stored."""
    if not name.strip():
        raise ApplicationError("name required", fields={"name": "must not be empty"})
    raw, prefix = new_api_key()
    key = ApiKey.objects.create(name=name.strip(), prefix=prefix, key_hash=secret_hash(raw))
    audit_record(
        actor=actor,
        action=Action.API_KEY_CREATED,
        object_type="api_key",
        object_id=key.pk,
        data={"prefix": prefix},
    )
    return key, raw


@transaction.atomic
def api_key_revoke(*, key: ApiKey, actor: Actor) -> ApiKey:
    key.revoked_at = timezone.now()
    key.save(update_fields=["revoked_at", "updated_at"])
    audit_record(actor=actor, action=Action.API_KEY_REVOKED, object_type="api_key", object_id=key.pk)
    return key


@transaction.atomic
def user_create(*, username: str, role: str, password: str, actor: Actor, email: str = ""):
    if role not in ROLES:
        raise ApplicationError("unknown role", fields={"role": f"must be one of {', '.join(ROLES)}"})
    User = get_user_model()
    if User.objects.filter(username=username).exists():
        raise ApplicationError("user exists", fields={"username": f"{username!r} is taken"})
    # The receivers write the events (user.created, then user.roles_changed), as they do for a
    # user made or changed anywhere else, with this actor.
    with acting_as(actor):
        user = User.objects.create_user(username=username, password=password, email=email)
        group, _ = Group.objects.get_or_create(name=role)
        user.groups.add(group)
    return user
