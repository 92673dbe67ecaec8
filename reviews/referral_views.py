"""Pages of review before effect and of reviews staff open: a caseworker takes a referred decision
from the queue; a caseworker or an auditor opens a review of any decision, with a reason."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from config.errors import ApplicationError, add_service_errors
from config.text import NoControlCharacters
from decisions.auth import AUDITOR, CASEWORKER, has_role, role_required
from decisions.models import Decision

from .caseworker_views import caseworker_required
from .models import ReviewRequest
from .services.referrals import referral_take
from .services.staff import review_open
from .services.steps import MAX_TEXT, MIN_RATIONALE

FOR_STAFF = gettext_lazy("This page is for caseworkers and auditors.")
staff_required = role_required(lambda user: has_role(user, CASEWORKER) or has_role(user, AUDITOR), FOR_STAFF)


class OpenReviewForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Why should a person review this decision?"),
        help_text=gettext_lazy("The caseworker who takes the review reads this. Not shown to the person."),
        widget=forms.Textarea(attrs={"rows": 4}),
        min_length=MIN_RATIONALE,
        max_length=MAX_TEXT,
        validators=[NoControlCharacters()],
    )


@caseworker_required
@require_POST
def take_referral(request, decision_id):
    """Take a decision referred before effect: its review opens, assigned to you."""
    decision = get_object_or_404(Decision, pk=decision_id)
    try:
        case = referral_take(decision=decision, user=request.user)
    except ApplicationError as exc:
        messages.error(request, "; ".join(str(v) for v in exc.fields.values()) or exc.message)
        return redirect("reviews:queue")
    messages.success(request, _("You took the referral: case %(reference)s.") % {"reference": case.reference})
    return redirect("reviews:case", reference=case.reference)


@staff_required
@require_http_methods(["GET", "POST"])
def open_review(request, decision_id):
    """Open a review of a decision: what it is, the reviews it has, and the reason form."""
    decision = get_object_or_404(Decision.objects.select_related("model_version__model"), pk=decision_id)
    form = OpenReviewForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            case = review_open(decision=decision, user=request.user, reason=form.cleaned_data["reason"])
        except ApplicationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Review %(reference)s opened.") % {"reference": case.reference})
            if has_role(request.user, CASEWORKER):
                return redirect("reviews:case", reference=case.reference)
            return redirect("reviews:open-review", decision_id=decision.pk)
    reviews = ReviewRequest.objects.filter(decision=decision).order_by("-received_at")
    return render(
        request,
        "reviews/staff_open_review.html",
        {"decision": decision, "form": form, "reviews": list(reviews)},
        status=400 if request.method == "POST" else 200,
    )
