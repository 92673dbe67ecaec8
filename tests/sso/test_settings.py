"""Sign-in settings read from the environment: a wrong one stops the process at start, naming it."""

from tests.services import settings_process

READ = "from django.conf import settings; print(settings.OIDC_ROLE_GROUPS, settings.OTP_REQUIRED_ROLES)"


def test_the_role_mapping_and_the_required_roles_are_read():
    done = settings_process(
        READ,
        OIDC_ROLE_GROUPS="caseworker=staff-a, auditor=dpo ,caseworker=staff-b",
        OTP_REQUIRED_ROLES="auditor, admin",
    )
    assert done.returncode == 0, done.stderr
    assert (
        done.stdout.strip()
        == "{'caseworker': ['staff-a', 'staff-b'], 'auditor': ['dpo']} ['auditor', 'admin']"
    )


def test_an_unknown_role_is_refused_at_start():
    bad_mapping = settings_process(READ, OIDC_ROLE_GROUPS="supervisor=leads")
    assert bad_mapping.returncode != 0
    assert "OIDC_ROLE_GROUPS: 'supervisor=leads' is not ROLE=GROUP" in bad_mapping.stderr
    bad_roles = settings_process(READ, OTP_REQUIRED_ROLES="auditor,dpo")
    assert bad_roles.returncode != 0 and "OTP_REQUIRED_ROLES: dpo is not a role" in bad_roles.stderr


def test_a_client_id_without_the_endpoints_is_refused_at_start():
    done = settings_process(READ, OIDC_RP_CLIENT_ID="rationale")
    assert done.returncode != 0 and "OIDC_RP_CLIENT_SECRET, OIDC_OP_AUTHORIZATION_ENDPOINT" in done.stderr
