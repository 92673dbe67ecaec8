"""Content-Security-Policy on the pages (django-csp), not on the JSON API.

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
