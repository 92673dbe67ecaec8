from .auth import AUDITOR, CASEWORKER
from .models import ApiKey


def roles(request) -> dict:
    """Which workspaces the signed-in user may see (for navigation only; views check again)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or isinstance(user, ApiKey):
        # An API key (DRF's request.user for a key-authenticated request, as on the browsable
        # API) has no groups and sees no workspace.
        return {"is_caseworker": False, "is_auditor": False}
    names = set(user.groups.values_list("name", flat=True))
    return {"is_caseworker": CASEWORKER in names, "is_auditor": AUDITOR in names}
