"""Nobody gains or loses a role unlogged: every new user, every change of a user's groups and of
their staff or superuser rights appends an audit event, whoever makes it (a service, the admin, a
shell). Django's model signals are the one hook all of these pass through, so the events are
written here rather than by each caller.

Who acted is known where the change is made through `acting_as` (the account services, the admin);
anywhere else the event says "system: unknown".
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.contrib.auth import get_user_model
from django.db.models.signals import m2m_changed, post_save, pre_save
from django.dispatch import receiver

from audit.models import Action
from audit.services import Actor, audit_record

User = get_user_model()
UNKNOWN = Actor.system("unknown")
_acting: ContextVar[Actor | None] = ContextVar("rationale_role_change_actor", default=None)
STAFF = "staff"
SUPERUSER = "superuser"
RIGHTS_FIELDS = {"is_staff", "is_superuser", "is_active"}


@contextmanager
def acting_as(actor: Actor) -> Iterator[None]:
    """Attribute the user and role changes made inside to `actor`."""
    token = _acting.set(actor)
    try:
        yield
    finally:
        _acting.reset(token)


def roles_of(user_ids) -> dict[int, list[str]]:
    """Each user's roles: their groups, and "staff" and "superuser" for those rights; an inactive
    account has none."""
    users = User.objects.filter(pk__in=list(user_ids)).prefetch_related("groups")
    return {u.pk: _roles(u, [g.name for g in u.groups.all()]) for u in users}


def _roles(user, groups: list[str]) -> list[str]:
    if not user.is_active:
        return []
    flags = [name for name, on in ((STAFF, user.is_staff), (SUPERUSER, user.is_superuser)) if on]
    return sorted(groups) + flags


def _record_change(user_id, before: list[str], after: list[str]) -> None:
    if before != after:
        audit_record(
            actor=_acting.get() or UNKNOWN,
            action=Action.USER_ROLES_CHANGED,
            object_type="user",
            object_id=user_id,
            data={"before": before, "after": after},
        )


@receiver(pre_save, sender=User, dispatch_uid="decisions_user_rights_before")
def _rights_before(sender, instance, update_fields=None, raw=False, **kwargs):
    # A sign-in saves last_login alone: no rights can change, so no query.
    if raw or instance.pk is None or (update_fields is not None and not RIGHTS_FIELDS & set(update_fields)):
        return
    instance._rights_before = roles_of([instance.pk]).get(instance.pk)


@receiver(post_save, sender=User, dispatch_uid="decisions_user_saved")
def _user_saved(sender, instance, created, raw=False, **kwargs):
    if raw:
        return
    if created:
        audit_record(
            actor=_acting.get() or UNKNOWN,
            action=Action.USER_CREATED,
            object_type="user",
            object_id=instance.pk,
            data={"roles": _roles(instance, [])},
        )
        return
    before = instance.__dict__.pop("_rights_before", None)
    if before is not None:
        _record_change(instance.pk, before, roles_of([instance.pk]).get(instance.pk, []))


@receiver(m2m_changed, sender=User.groups.through, dispatch_uid="decisions_user_groups_changed")
def _groups_changed(sender, instance, action, reverse, pk_set, **kwargs):
    """`user.groups.add(group)` (forward) or `group.user_set.add(user)` (reverse): the roles of
    each user concerned before and after."""
    if action.startswith("pre_"):
        if not reverse:
            users = [instance.pk]
        elif pk_set is not None:
            users = list(pk_set)
        else:  # group.user_set.clear()
            users = list(instance.user_set.values_list("pk", flat=True))
        instance._groups_before = roles_of(users)
        return
    before = instance.__dict__.pop("_groups_before", {})
    after = roles_of(before)
    for user_id, roles in before.items():
        _record_change(user_id, roles, after.get(user_id, []))
