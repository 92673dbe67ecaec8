"""Django's authentication signals are the only hook for logins; they hand off to the service."""

import hashlib

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from .models import Action
from .services import Actor, audit_record


@receiver(user_logged_in, dispatch_uid="audit_user_logged_in")
def _user_logged_in(sender, request, user, **kwargs):
    audit_record(actor=Actor.user(user), action=Action.USER_LOGIN, object_type="user", object_id=user.pk)


@receiver(user_logged_out, dispatch_uid="audit_user_logged_out")
def _user_logged_out(sender, request, user, **kwargs):
    # Signing out of a session whose user is gone (or was never signed in) sends no user.
    if user is not None:
        audit_record(actor=Actor.user(user), action=Action.USER_LOGOUT, object_type="user", object_id=user.pk)


@receiver(user_login_failed, dispatch_uid="audit_user_login_failed")
def _user_login_failed(sender, credentials, request=None, **kwargs):
    # The attempted username is personal data: keep only its hash.
    username = str(credentials.get("username", ""))
    audit_record(
        actor=Actor.system("auth"),
        action=Action.USER_LOGIN_FAILED,
        object_type="user",
        object_id=hashlib.sha256(username.encode()).hexdigest()[:16],
    )
