"""python -m tests.sso.provider setup REDIRECT_URI CLIENT_ID CLIENT_SECRET
                                  | groups USERNAME [GROUP ...]
                                  | serve

`setup` makes the database, the client application and two people: carol (in
rationale-caseworkers) and nick (in no group Rationale maps). Passwords are "pw-" + username."""

import os
import sys

import django


def setup(redirect_uri: str, client_id: str, client_secret: str) -> None:
    from django.contrib.auth.models import Group, User
    from django.core.management import call_command
    from oauth2_provider.models import Application

    call_command("migrate", verbosity=0, interactive=False)
    Application.objects.create(
        name="Rationale",
        client_id=client_id,
        client_secret=client_secret,
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        redirect_uris=redirect_uri,
        algorithm=Application.RS256_ALGORITHM,
        skip_authorization=True,
    )
    carol = User.objects.create_user("carol", password="pw-carol", email="carol@example.org")
    carol.groups.add(Group.objects.create(name="rationale-caseworkers"))
    User.objects.create_user("nick", password="pw-nick", email="nick@example.org")


def set_groups(username: str, *names: str) -> None:
    from django.contrib.auth.models import Group, User

    user = User.objects.get(username=username)
    user.groups.set([Group.objects.get_or_create(name=name)[0] for name in names])


def serve() -> None:
    from django.core.management import call_command

    call_command("runserver", f"127.0.0.1:{os.environ['PROVIDER_PORT']}", use_reloader=False)


if __name__ == "__main__":
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.sso.provider.settings"
    django.setup()
    command, *args = sys.argv[1:]
    {"setup": setup, "groups": set_groups, "serve": serve}[command](*args)
