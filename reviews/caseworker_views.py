"""The caseworker's workspace: the review queue, the case page and its actions, and the
automation-bias signals for supervisors. Sign-in and the `caseworker` group are required (the
signals: a supervisor's rights); anyone else signed in gets the 403 page, which says why."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from audit.models import Action
from audit.services import Actor, audit_record
from config.errors import ApplicationError, add_service_errors
from decisions.auth import AUDITOR, CASEWORKER, has_role, role_required
from decisions.models import DecisionModel
from decisions.selectors import effective_decision
from decisions.subject_access import subject_access_reissue

from . import automation_bias, case_page, deadlines, rectification, selectors
from .caseworker_forms import AskForm, DecideForm, ExtendForm, QueueFilterForm, RectifyForm
from .models import ReviewRequest
from .presentation import case_presentation, decision_presentation
from .services import casework
from .services import rectify as rectify_service

FOR_CASEWORKERS = gettext_lazy("This page is for caseworkers.")
FOR_SUPERVISORS = gettext_lazy(
    "This page is for supervisors: caseworkers with supervisor rights, and auditors."
)


def is_supervisor(user) -> bool:
    """Caseworkers with staff status, and auditors (read-only oversight)."""
    return (user.is_staff and has_role(user, CASEWORKER)) or has_role(user, AUDITOR)


caseworker_required = role_required(lambda user: has_role(user, CASEWORKER), FOR_CASEWORKERS)
supervisor_required = role_required(is_supervisor, FOR_SUPERVISORS)


@caseworker_required
def queue(request):
    """Open requests, earliest due first, each with the outcome in force; overdue ones marked;
    filters; take a case."""
    form = QueueFilterForm(
        request.GET or None,
        models=DecisionModel.objects.order_by("name").values_list("name", flat=True),
        caseworkers=selectors.caseworkers(),
    )
    filters = form.cleaned_data if form.is_valid() else {}
    rows = list(
        selectors.review_queue(
            model=filters.get("model", ""),
            kind=filters.get("kind", ""),
            status=filters.get("status", "") or "open",
            assignee=filters.get("assignee", ""),
            user=request.user,
        )[:500]
    )
    now = timezone.now()
    for row in rows:
        row.overdue = deadlines.is_overdue(row, now)
        row.days_left = deadlines.days_left(row, now)
    # Decisions referred before effect, not taken yet: a caseworker's "Take" opens their review.
    referred = list(selectors.referred_decisions()[:200])
    return render(
        request,
        "reviews/caseworker_queue.html",
        {
            "form": form,
            "rows": rows,
            "referred": referred,
            "now": now,
            "can_see_signals": is_supervisor(request.user),
        },
    )


def _case_or_404(reference: str):
    found = selectors.review_case(reference)
    if found is None:
        raise Http404(_("No such case."))
    return found


def _decide_form(in_force, data=None, *, overturning: bool = False) -> DecideForm:
    outcomes = in_force.model_version.output["class_labels"]
    return DecideForm(data, in_force=in_force.outcome, outcomes=outcomes, overturning=overturning)


def _case_context(request, case, **forms) -> dict:
    decision = case.decision
    context = decision_presentation(decision)
    in_force = context["in_force"]
    decide_form = forms.get("decide_form")
    if decide_form is None:
        decide_form = _decide_form(in_force)
    else:
        # A refused decision: offer the outcomes against the one in force now, which another
        # review may have changed meanwhile.
        decide_form.offer(in_force=in_force.outcome, outcomes=in_force.model_version.output["class_labels"])
    context.update(case_presentation(case))
    context.update(
        case=case,
        current=in_force,
        statement_scrolls=len(case.statement) > case_page.LONG_STATEMENT,
        score_line=case_page.score_line(decision),
        card=case_page.model_card(decision.model_version),
        explanation_rows=case_page.explanation_rows(context["explanation"], decision.model_version)
        if context["explanation"] is not None and context["explanation"].status == "done"
        else [],
        actions=list(case.actions.all()),
        others=list(selectors.other_requests_of_decision(case)),
        overdue=deadlines.is_overdue(case),
        days_left=deadlines.days_left(case),
        can_extend=deadlines.can_extend(case),
        decide_form=decide_form,
        ask_form=forms.get("ask_form") or AskForm(prefix="ask"),
        extend_form=forms.get("extend_form") or ExtendForm(prefix="extend"),
        is_mine=case.assignee_id == request.user.pk,
    )
    return context


@caseworker_required
def case(request, reference: str):
    """The request, the person's statement, the outcome in force and the actions first; then the
    explanation, the data used, the model card and the history."""
    found = _case_or_404(reference)
    audit_record(
        actor=Actor.user(request.user),
        action=Action.DECISION_CASE_VIEWED,
        object_type="decision",
        object_id=found.decision_id,
        data={"reference": found.reference},
    )
    if found.decision.restricted_at and found.decision.personal_data_erased_at is None:
        return _restricted_page(request, found)
    return render(request, "reviews/caseworker_case.html", _case_context(request, found))


def _restricted_page(request, found, *, refused: bool = False):
    """Restricted on the person's request (oversight.erasure): nothing of theirs is shown, and an
    action posted is refused (409) without being tried."""
    if refused:
        messages.error(
            request, _("This decision is restricted on the person's request: its case cannot be worked on.")
        )
    context = {
        "case": found,
        "restricted": True,
        "overdue": deadlines.is_overdue(found),
        "days_left": deadlines.days_left(found),
    }
    return render(request, "reviews/caseworker_case.html", context, status=409 if refused else 200)


@caseworker_required
@require_POST
def take(request, reference: str):
    found = _case_or_404(reference)
    if found.decision.restricted_at:
        return _restricted_page(request, found, refused=True)
    try:
        casework.review_take(request=found, user=request.user)
    except ApplicationError as exc:
        messages.error(request, _flatten(exc))
        return redirect("reviews:queue")
    messages.success(request, _("You took case %(reference)s.") % {"reference": found.reference})
    return redirect("reviews:case", reference=found.reference)


def _flatten(exc: ApplicationError) -> str:
    return "; ".join(str(v) for v in exc.fields.values()) or exc.message


def _act(request, reference: str, *, form_name: str, build_form, perform, done_message: str):
    """Validate the action's form, call its service, and redirect (or show the case with errors)."""
    found = _case_or_404(reference)
    if found.decision.restricted_at:
        return _restricted_page(request, found, refused=True)
    form = build_form(found)
    if form.is_valid():
        try:
            perform(found, form.cleaned_data)
        except ApplicationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, done_message % {"reference": found.reference})
            return redirect("reviews:case", reference=found.reference)
    found = _case_or_404(reference)
    return render(
        request,
        "reviews/caseworker_case.html",
        _case_context(request, found, **{form_name: form}),
        status=400,
    )


def _decide(request, reference: str, *, overturning: bool, perform, done_message: str):
    return _act(
        request,
        reference,
        form_name="decide_form",
        build_form=lambda case: _decide_form(
            effective_decision(case.decision), request.POST, overturning=overturning
        ),
        perform=perform,
        done_message=done_message,
    )


@caseworker_required
@require_POST
def uphold(request, reference: str):
    return _decide(
        request,
        reference,
        overturning=False,
        perform=lambda case, data: casework.review_uphold(
            request=case, user=request.user, rationale=data["rationale"], expected_in_force=data["in_force"]
        ),
        done_message=_("Case %(reference)s: decision upheld."),
    )


@caseworker_required
@require_POST
def overturn(request, reference: str):
    return _decide(
        request,
        reference,
        overturning=True,
        perform=lambda case, data: casework.review_overturn(
            request=case,
            user=request.user,
            new_outcome=data["new_outcome"],
            rationale=data["rationale"],
            expected_in_force=data["in_force"],
        ),
        done_message=_("Case %(reference)s: decision overturned; the new decision is recorded."),
    )


@caseworker_required
@require_http_methods(["GET", "POST"])
def rectify(request, reference: str):
    """A rectification: the proposed values beside those used, each accepted or rejected; on
    acceptance the same model version decides again (reviews.services.rectify)."""
    found = _case_or_404(reference)
    if found.kind != ReviewRequest.Kind.RECTIFY:
        raise Http404(_("No such case."))
    if found.decision.restricted_at and request.method == "POST":
        return _restricted_page(request, found, refused=True)
    if found.decision.restricted_at or found.decision.personal_data_erased_at:
        return redirect("reviews:case", reference=reference)  # its data is not shown to caseworkers
    in_force = effective_decision(found.decision)
    proposed = rectification.proposals(found, in_force)
    data = request.POST if request.method == "POST" else None
    form = RectifyForm(data, proposals=proposed, initial={"in_force": str(in_force.pk)})
    if request.method == "POST" and form.is_valid():
        try:
            rectify_service.review_rectify(
                request=found,
                user=request.user,
                accepted=form.accepted(),
                rationale=form.cleaned_data["rationale"],
                expected_in_force=form.cleaned_data["in_force"],
            )
        except ApplicationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(
                request, _("Case %(reference)s: corrections decided.") % {"reference": reference}
            )
            return redirect("reviews:case", reference=reference)
    context = {"case": found, "current": in_force, "proposals": proposed, "form": form}
    status = 400 if request.method == "POST" else 200
    return render(request, "reviews/caseworker_rectify.html", context, status=status)


@caseworker_required
@require_POST
def ask(request, reference: str):
    return _act(
        request,
        reference,
        form_name="ask_form",
        build_form=lambda case: AskForm(request.POST, prefix="ask"),
        perform=lambda case, data: casework.review_request_information(
            request=case, user=request.user, question=data["question"]
        ),
        done_message=_("Case %(reference)s: your question was sent to the person."),
    )


@caseworker_required
@require_POST
def extend(request, reference: str):
    return _act(
        request,
        reference,
        form_name="extend_form",
        build_form=lambda case: ExtendForm(request.POST, prefix="extend"),
        perform=lambda case, data: casework.review_extend(
            request=case, user=request.user, months=data["months"], reason=data["reason"]
        ),
        done_message=_("Case %(reference)s: deadline extended."),
    )


@caseworker_required
@require_POST
def reissue_access(request, reference: str):
    """A new access link for the person (theirs was lost, expired or withdrawn), shown once here to
    hand over; the old link stops working. Rendered, not redirected: the link must not pass
    through the session's messages."""
    found = _case_or_404(reference)
    reissued = subject_access_reissue(decision=found.decision, actor=Actor.user(request.user))
    response = render(
        request, "reviews/caseworker_access_reissued.html", {"case": found, "reissued": reissued}
    )
    response["Referrer-Policy"] = "no-referrer"
    return response


@supervisor_required
def signals(request):
    """Automation-bias signals per caseworker (AI Act Art. 14(4)(b))."""
    return render(
        request,
        "reviews/caseworker_signals.html",
        {
            "signals": automation_bias.automation_bias_signals(),
            "min_cases": automation_bias.BIAS_MIN_CASES,
            "agreement": automation_bias.BIAS_AGREEMENT,
            "median_minutes": automation_bias.BIAS_MEDIAN_SECONDS / 60,
        },
    )
