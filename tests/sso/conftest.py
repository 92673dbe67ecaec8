from tests.sso.fixtures import provider  # noqa: F401 - the OpenID Connect provider process
