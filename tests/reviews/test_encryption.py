"""What people write is encrypted at rest (config.encryption): the columns hold Fernet tokens, the
application reads the text, and `rotate_field_keys` moves every value to a new key so that the
old one can be removed."""

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import connection

from audit.services import Actor
from decisions.recording import DecisionInput
from explanations.recording import decision_record_many
from reviews.models import CaseAction, ReviewRequest
from reviews.selectors import contact_of
from reviews.services import casework, requests
from tests.services import settings_process

pytestmark = pytest.mark.django_db
STATEMENT = "Okapi statement: my income from Quillfeather Ltd was read as monthly, it is weekly."
REPLY = "Okapi reply: the payslips from Quillfeather Ltd are attached."
EMAIL = "okapi.person@example.org"


@pytest.fixture
def case(credit_version, credit_trained, caseworker):
    [recorded] = decision_record_many(
        items=[DecisionInput(model="credit-risk", subject_ref="s-1", features=credit_trained.sample_rows[0])],
        actor=Actor.system("tests"),
    )
    request = requests.review_request_create(
        decision=recorded.decision,
        kind="contest",
        grounds="data_wrong",
        statement=STATEMENT,
        contact_email=EMAIL,
    )
    casework.review_take(request=request, user=caseworker)
    casework.review_request_information(
        request=request, user=caseworker, question="Can you show your income?"
    )
    requests.review_subject_reply(request=request, statement=REPLY)
    return ReviewRequest.objects.get(pk=request.pk)


def stored() -> dict[str, str]:
    """The columns as the database holds them, read past the model fields."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT statement, contact_email FROM {ReviewRequest._meta.db_table}")  # noqa: S608
        statement, email = cursor.fetchone()
        cursor.execute(
            f"SELECT rationale FROM {CaseAction._meta.db_table} WHERE kind = %s",  # noqa: S608
            [CaseAction.Kind.SUBJECT_REPLIED],
        )
        [reply] = cursor.fetchone()
    return {"statement": statement, "contact_email": email, "reply": reply}


def test_the_columns_hold_tokens_and_the_application_reads_the_text(case, settings):
    raw = stored()
    for name, text in (("statement", STATEMENT), ("contact_email", EMAIL), ("reply", REPLY)):
        assert text not in raw[name] and "Okapi" not in raw[name] and "okapi" not in raw[name]
        assert Fernet(settings.FIELD_ENCRYPTION_KEYS[0]).decrypt(raw[name].encode()) == text.encode()
    assert (case.statement, case.contact_email) == (STATEMENT, EMAIL)
    assert CaseAction.objects.get(kind=CaseAction.Kind.SUBJECT_REPLIED).rationale == REPLY
    # "Has the person given an address" is still a query: an empty value is stored empty.
    assert contact_of(case) == case
    assert ReviewRequest.objects.exclude(contact_email="").count() == 1
    with pytest.raises(ValueError, match="encrypted"):
        ReviewRequest.objects.filter(contact_email=EMAIL).exists()


def test_rotation_moves_every_value_to_the_new_key_and_the_old_key_can_go(case, settings):
    old = settings.FIELD_ENCRYPTION_KEYS[0]
    new = Fernet.generate_key().decode()
    before = stored()

    settings.FIELD_ENCRYPTION_KEYS = [new]  # the old key removed too early: nothing opens
    with pytest.raises(ImproperlyConfigured, match="FIELD_ENCRYPTION_KEYS"):
        ReviewRequest.objects.get(pk=case.pk)

    settings.FIELD_ENCRYPTION_KEYS = [new, old]
    call_command("rotate_field_keys", batch_size=1)
    after = stored()
    assert all(after[name] != before[name] for name in before)
    assert {name: Fernet(new).decrypt(after[name].encode()).decode() for name in after} == {
        "statement": STATEMENT,
        "contact_email": EMAIL,
        "reply": REPLY,
    }
    call_command("rotate_field_keys")  # again: nothing left under the old key
    assert stored() == after

    settings.FIELD_ENCRYPTION_KEYS = [new]
    request = ReviewRequest.objects.get(pk=case.pk)
    assert (request.statement, request.contact_email) == (STATEMENT, EMAIL)
    assert CaseAction.objects.get(kind=CaseAction.Kind.SUBJECT_REPLIED).rationale == REPLY


def test_without_keys_the_settings_refuse_to_start_outside_debug():
    loaded = settings_process(
        "from django.conf import settings; settings.FIELD_ENCRYPTION_KEYS",
        FIELD_ENCRYPTION_KEYS="",
        DEBUG="0",
    )
    assert loaded.returncode != 0 and "FIELD_ENCRYPTION_KEYS must be set when DEBUG is off" in loaded.stderr
    debug = settings_process(
        "from django.conf import settings; print(len(settings.FIELD_ENCRYPTION_KEYS))",
        FIELD_ENCRYPTION_KEYS="",
        DEBUG="1",
    )
    assert debug.returncode == 0 and debug.stdout.strip().splitlines()[-1] == "1", debug.stderr
