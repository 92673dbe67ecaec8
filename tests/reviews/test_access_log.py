"""Who saw my data: every staff or API read of a person's decision is one audit event, the person
sees them by role and day, auditors find them by subject, and no role changes hands unlogged."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.core.management import call_command
from django.utils import timezone, translation
from django.utils.formats import date_format

from audit.models import Action, AuditEvent
from audit.services import Actor
from decisions.recording import DecisionInput
from explanations.recording import decision_record_many
from reviews.services import requests
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_throttle():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def recorded(credit_version, credit_trained):
    """Three decisions: two of person p-0, one of p-1."""
    rows = credit_trained.sample_rows[:3]
    items = [
        DecisionInput(model="credit-risk", features=r, subject_ref=ref)
        for r, ref in zip(rows, ["p-0", "p-0", "p-1"], strict=True)
    ]
    return decision_record_many(items=items, actor=Actor.system("tests"))


def accesses(client, recorded_decision, **headers) -> list[str]:
    page = re.sub(
        r"\s+",
        " ",
        client.get(f"/access/{recorded_decision.access_token}/", follow=True, **headers).content.decode(),
    )
    section = re.search(r'<section aria-labelledby="accesses-title".*?</section>', page).group(0)
    return [re.sub(r"<[^>]+>", "", item).strip() for item in re.findall(r"<li>(.*?)</li>", section)]


def reads() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=Action.PERSONAL_DATA_READ).order_by("id"))


def test_an_api_read_and_a_case_view_are_listed_to_the_person_but_not_their_own(
    client, integration, caseworker, recorded
):
    mine, other = recorded[0], recorded[2]
    # The person's own visits, by page and by the subject API, are not reads by others.
    assert accesses(client, mine) == []
    assert client.get("/api/v1/subject/decision/", HTTP_X_ACCESS_TOKEN=mine.access_token).status_code == 200
    assert (
        "Nobody at the organisation has read"
        in client.get(f"/access/{mine.access_token}/", follow=True).content.decode()
    )

    assert integration.get(f"/api/v1/decisions/{mine.decision.pk}/").status_code == 200
    case = requests.review_request_create(
        decision=mine.decision, kind="contest", grounds="data_wrong", statement="My income is higher."
    )
    assert client_for(caseworker).get(f"/cases/{case.reference}/").status_code == 200
    client_for(caseworker).get(f"/cases/{case.reference}/")  # the same role on the same day: one line

    today = timezone.localdate()
    assert accesses(client, mine) == [
        f"a caseworker, {date_format(today, 'DATE_FORMAT')}",
        f"the organisation’s decision system, {date_format(today, 'DATE_FORMAT')}",
    ]
    with translation.override("de"):
        german_day = date_format(today, "DATE_FORMAT")  # "3. März 2026"
    assert german_day.startswith(f"{today.day}. ")
    assert accesses(client, mine, HTTP_ACCEPT_LANGUAGE="de") == [
        f"jemand aus der Sachbearbeitung, {german_day}",
        f"das Entscheidungssystem der Organisation, {german_day}",
    ]
    # Another person's page shows none of it.
    assert accesses(client, other) == []
    [read] = reads()
    assert (read.actor_type, read.object_type, read.object_id) == (
        "api_key",
        "decision",
        str(mine.decision.pk),
    )
    assert read.data == {"role": "integration", "purpose": "api", "decisions": [str(mine.decision.pk)]}


def test_the_list_api_logs_one_event_per_request_naming_every_decision(integration, caseworker, recorded):
    ids = {str(r.decision.pk) for r in recorded}
    listed = integration.get("/api/v1/decisions/", {"page_size": 2})
    first_page = [d["id"] for d in listed.json()["results"]]
    integration.get(listed.json()["next"])
    client_for(caseworker).get("/api/v1/decisions/")
    client_for(caseworker).get(f"/api/v1/decisions/{recorded[1].decision.pk}/explanation/")

    page_one, page_two, by_caseworker, explanation = reads()
    assert page_one.data == {"role": "integration", "purpose": "api", "decisions": first_page}
    assert (page_one.object_type, page_one.object_id) == ("decision_list", "2")
    assert set(page_one.data["decisions"]) | set(page_two.data["decisions"]) == ids
    assert by_caseworker.actor_id == str(caseworker.pk) and by_caseworker.data["role"] == "caseworker"
    assert sorted(by_caseworker.data["decisions"]) == sorted(ids)
    assert explanation.object_id == str(recorded[1].decision.pk) and explanation.data["role"] == "caseworker"
    # A page with nothing on it read nobody's data.
    integration.get("/api/v1/decisions/", {"model": "no-such-model"})
    assert len(reads()) == 4


def _admin():
    admin = get_user_model().objects.create_superuser("root", "root@example.org", "pw-root-long")
    return admin, client_for(admin)


def test_granting_a_role_in_the_admin_appends_an_event_naming_who(caseworker):
    admin, browser = _admin()
    auditors = Group.objects.get(name="auditor")
    form = browser.get(f"/admin/auth/user/{caseworker.pk}/change/").context["adminform"].form
    data = {
        k: v for k, v in form.initial.items() if v is not None and k not in ("password", "user_permissions")
    }
    data.update(
        groups=[g.pk for g in caseworker.groups.all()] + [auditors.pk],
        date_joined_0=caseworker.date_joined.strftime("%Y-%m-%d"),
        date_joined_1=caseworker.date_joined.strftime("%H:%M:%S"),
        is_active="on",
    )
    data.pop("date_joined", None), data.pop("last_login", None)
    response = browser.post(f"/admin/auth/user/{caseworker.pk}/change/", data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    granted = AuditEvent.objects.filter(action=Action.USER_ROLES_CHANGED, object_id=str(caseworker.pk)).last()
    assert (granted.actor_type, granted.actor_id) == ("user", str(admin.pk))
    assert granted.data == {"before": ["caseworker"], "after": ["auditor", "caseworker"]}


def test_role_changes_anywhere_else_are_logged_too(caseworker):
    # The account service: created, then given its role, by the command's actor.
    call_command("create_user", "carol", "--role", "auditor", "--password", "a-long-password")
    carol = get_user_model().objects.get(username="carol")
    events = AuditEvent.objects.filter(object_type="user", object_id=str(carol.pk)).order_by("id")
    assert [(e.action, e.actor_id, e.data) for e in events] == [
        (Action.USER_CREATED, "manage.py", {"roles": []}),
        (Action.USER_ROLES_CHANGED, "manage.py", {"before": [], "after": ["auditor"]}),
    ]
    # A shell: rights and groups changed directly, by an actor nobody named.
    caseworker.is_staff = True
    caseworker.save()
    Group.objects.get(name="auditor").user_set.add(caseworker)
    caseworker.groups.clear()
    changes = AuditEvent.objects.filter(action=Action.USER_ROLES_CHANGED, object_id=str(caseworker.pk))
    assert [(e.actor_type, e.actor_id, e.data["after"]) for e in changes.order_by("id")] == [
        ("system", "tests", ["caseworker"]),  # user_create in the fixture
        ("system", "unknown", ["caseworker", "staff"]),
        ("system", "unknown", ["auditor", "caseworker", "staff"]),
        ("system", "unknown", ["staff"]),
    ]
    # Signing in changes no rights and logs no role change.
    client_for(caseworker)
    assert changes.count() == 4


def test_the_admin_logs_its_reads_of_decisions(recorded):
    admin, browser = _admin()
    decision = recorded[0].decision
    assert browser.get(f"/admin/decisions/decision/{decision.pk}/change/").status_code == 200
    assert browser.get("/admin/decisions/decision/").status_code == 200
    one, page = reads()
    assert (one.actor_id, one.object_id, one.data["role"], one.data["purpose"]) == (
        str(admin.pk),
        str(decision.pk),
        "administrator",
        "administration",
    )
    assert sorted(page.data["decisions"]) == sorted(str(r.decision.pk) for r in recorded)


def test_auditors_filter_the_timeline_by_subject(integration, auditor, recorded):
    p0 = [str(r.decision.pk) for r in recorded[:2]]
    integration.get("/api/v1/decisions/")  # names all three
    integration.get(f"/api/v1/decisions/{recorded[2].decision.pk}/")  # p-1's alone
    requests.review_request_create(decision=recorded[0].decision, kind="view", statement="I disagree.")

    page = client_for(auditor).get("/audit/events/", {"subject_ref": "p-0"})
    events = page.context["page"].events
    about = [(e.action, e.object_id if e.object_type == "decision" else e.object_type) for e in events]
    assert sorted(about) == sorted(
        [
            (Action.DECISION_RECORDED, p0[0]),
            (Action.DECISION_RECORDED, p0[1]),
            (Action.PERSONAL_DATA_READ, "decision_list"),
            (Action.REVIEW_REQUESTED, "review_request"),
        ]
    )
    nobody = client_for(auditor).get("/audit/events/", {"subject_ref": "no-such-person"})
    assert nobody.context["page"].events == []
