"""The decision body's link to its explanation."""


def test_the_explanation_link_is_what_reverse_gives_under_any_script_prefix():
    import uuid

    from django.urls import get_script_prefix, reverse, set_script_prefix

    from explanations.serializers import explanation_url

    before = get_script_prefix()
    try:
        for prefix in ("/", "/rationale/", "/a/b/"):
            set_script_prefix(prefix)
            for decision_id in (uuid.uuid4(), uuid.UUID(int=0), uuid.UUID(int=2**128 - 1)):
                url = explanation_url(decision_id)
                assert url == reverse("api-decision-explanation", args=[decision_id])
                assert url.startswith(prefix) and str(decision_id) in url
    finally:
        set_script_prefix(before)
