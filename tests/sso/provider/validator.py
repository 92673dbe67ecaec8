from oauth2_provider.oauth2_validators import OAuth2Validator


class GroupsValidator(OAuth2Validator):
    """Adds the person's username and groups to the ID token and the userinfo answer, as
    Keycloak, Entra ID or Okta do with a groups claim configured."""

    oidc_claim_scope = {**OAuth2Validator.oidc_claim_scope, "groups": "groups"}

    def get_additional_claims(self, request):
        return {
            "preferred_username": request.user.username,
            "groups": sorted(request.user.groups.values_list("name", flat=True)),
        }
