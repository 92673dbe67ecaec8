"""How the OpenAPI schema describes this project's two authentication classes.

drf-spectacular knows DRF's own classes only; without these, it leaves the API key and the
subject's access token out of every operation's `security`, and Swagger UI's "Authorize" sends
neither. Loaded by DecisionsConfig.ready().
"""

from drf_spectacular.extensions import OpenApiAuthenticationExtension

from .auth import ApiKeyAuthentication
from .subject_access import TOKEN_HEADER, SubjectTokenAuthentication


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = ApiKeyAuthentication
    name = "ApiKeyAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": f"`{ApiKeyAuthentication.keyword} <key>`: a key made with `manage.py create_api_key`",
        }


class SubjectTokenScheme(OpenApiAuthenticationExtension):
    target_class = SubjectTokenAuthentication
    name = "SubjectAccessToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": TOKEN_HEADER,
            "description": "the access token from the subject's decision notice (its `subject_access_url`)",
        }
