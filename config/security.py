"""Security headers: no caching of the API's personal data (NoStoreApiMiddleware), and the
Content-Security-Policy on the pages (django-csp), not on the JSON API.

A JSON response is not rendered by a browser, so a policy on it protects nothing, and building
the header costs django-csp's middleware CPU on every response. HTML under /api/v1/ (DRF's
browsable API) still gets the policy.
"""

from csp.middleware import CSPMiddleware

API_PREFIX = "/api/v1/"


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    def process_request(self, request):
        # The nonce is only for templates that ask for one; none under the API does.
        if not request.path_info.startswith(API_PREFIX):
            super().process_request(request)

    def process_response(self, request, response):
        if request.path_info.startswith(API_PREFIX) and response.get("Content-Type", "").startswith(
            "application/json"
        ):
            return response
        return super().process_response(request, response)


# Open to anyone and the same for everyone: a shared cache may keep them.
PUBLIC_API_PATHS = frozenset({f"{API_PREFIX}audit/public-key"})


class NoStoreApiMiddleware:
    """`Cache-Control: no-store` on every API response but the public ones.

    Nearly every API response carries personal data (a decision, its features, a person's
    request), and an error can echo what was sent: neither the browser nor a proxy between may
    keep a copy. One rule for the whole prefix, so that a new endpoint cannot forget it. The
    pages do the same per view (decisions.auth.role_required, the subject's pages).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        path = request.path_info
        if path.startswith(API_PREFIX) and path not in PUBLIC_API_PATHS:
            response["Cache-Control"] = "no-store"
        return response
