"""Management commands an operator runs."""

import os

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

from audit.models import Action, AuditEvent
from decisions.credentials import secret_hash
from decisions.models import ApiKey, Decision, ModelVersion
from explanations.models import Explanation

pytestmark = pytest.mark.django_db


def test_create_api_key_prints_key_once_and_stores_hash(capsys):
    call_command("create_api_key", "core-banking")
    raw = capsys.readouterr().out.strip()
    key = ApiKey.objects.get(name="core-banking")
    assert raw.startswith("rk_") and key.key_hash == secret_hash(raw) and raw not in key.key_hash
    assert AuditEvent.objects.filter(action=Action.API_KEY_CREATED, object_id=str(key.pk)).exists()


def test_create_user_with_role():
    call_command("create_user", "carol", "--role", "caseworker", "--password", "a-long-password")
    user = get_user_model().objects.get(username="carol")
    assert list(user.groups.values_list("name", flat=True)) == ["caseworker"]
    assert user.check_password("a-long-password")
    with pytest.raises(CommandError, match="taken"):
        call_command("create_user", "carol", "--role", "auditor", "--password", "x")


@pytest.mark.parametrize(
    ("password", "reason"),
    [("short", "too short"), ("password123", "too common"), ("dora-explorer", "too similar to the username")],
)
def test_create_user_refuses_a_weak_password_and_creates_nothing(password, reason):
    with pytest.raises(CommandError, match=reason):
        call_command("create_user", "dora-explorer", "--role", "auditor", "--password", password)
    assert not get_user_model().objects.filter(username="dora-explorer").exists()
    assert not AuditEvent.objects.filter(action=Action.USER_CREATED).exists()


def test_create_user_without_a_password_or_a_terminal_says_what_to_do(monkeypatch):
    with open(os.devnull) as no_terminal:  # as under cron or a CI job
        monkeypatch.setattr("sys.stdin", no_terminal)
        with pytest.raises(CommandError, match="--password"):
            call_command("create_user", "erin", "--role", "auditor")
    assert not get_user_model().objects.filter(username="erin").exists()


def test_seed_demo_twice_adds_nothing(tmp_path):
    args = [
        "--api-key-file",
        str(tmp_path / "key"),
        "--links-file",
        str(tmp_path / "links.txt"),
        "--credit-decisions",
        "30",
        "--digit-decisions",
        "5",
    ]
    call_command("seed_demo", *args)
    counts = (
        ModelVersion.objects.count(),
        Decision.objects.count(),
        Explanation.objects.count(),
        ApiKey.objects.count(),
        get_user_model().objects.count(),
        AuditEvent.objects.count(),
    )
    assert counts[:2] == (3, 42)  # 30 + 30 // 4 + 5
    assert set(ModelVersion.objects.values_list("model__name", flat=True)) == {
        "credit-risk",
        "credit-risk-linear",
        "digit-reader",
    }
    # Each passed its sandboxed registration checks and is its model's default.
    for version in ModelVersion.objects.select_related("model"):
        assert version.checks["state"] == "passed" and version.model.default_version == version
    key = (tmp_path / "key").read_text()
    call_command("seed_demo", *args)
    assert (
        ModelVersion.objects.count(),
        Decision.objects.count(),
        Explanation.objects.count(),
        ApiKey.objects.count(),
        get_user_model().objects.count(),
        AuditEvent.objects.count(),
    ) == counts
    assert (tmp_path / "key").read_text() == key
