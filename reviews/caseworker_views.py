"""The caseworker's workspace: the review queue, the case page and its actions, and the
automation-bias signals for supervisors. Sign-in and the `caseworker` group are required; anyone
else signed in gets 403."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from audit.models import Action
from audit.services import Actor, audit_record
from config.errors import ApplicationError, add_service_errors
from decisions.auth import AUDITOR, CASEWORKER, has_role, role_required
from decisions.models import DecisionModel
from decisions.selectors import effective_decision

from . import automation_bias, deadlines, selectors
from .forms import AskForm, ExtendForm, OverturnForm, QueueFilterForm, RationaleForm
from .presentation import decision_presentation
from .services import casework

FOR_CASEWORKERS = gettext_lazy("This page is for caseworkers.")
caseworker_required = role_required(lambda user: has_role(user, CASEWORKER), FOR_CASEWORKERS)
# Supervisors: caseworkers with staff status, and auditors (read-only oversight).
supervisor_required = role_required(
    lambda user: has_role(user, AUDITOR) or (has_role(user, CASEWORKER) and user.is_staff), FOR_CASEWORKERS
)


@caseworker_required
def queue(request):
    """Open requests, earliest due first; overdue ones marked; filters; take a case."""
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
    return render(request, "reviews/caseworker_queue.html", {"form": form, "rows": rows, "now": now})


def _case_or_404(reference: str):
    found = selectors.review_case(reference)
    if found is None:
        raise Http404(_("No such case."))
    return found


def _case_context(request, case, **forms) -> dict:
    decision = case.decision
    current = effective_decision(decision)
    labels = decision.model_version.output["class_labels"]
    context = decision_presentation(decision)
    context.update(
        case=case,
        current=current,
        actions=list(case.actions.all()),
        others=list(selectors.other_requests_of_decision(case)),
        overdue=deadlines.is_overdue(case),
        days_left=deadlines.days_left(case),
        can_extend=deadlines.can_extend(case),
        uphold_form=forms.get("uphold_form") or RationaleForm(prefix="uphold"),
        overturn_form=forms.get("overturn_form")
        or OverturnForm(prefix="overturn", outcomes=[o for o in labels if o != current.outcome]),
        ask_form=forms.get("ask_form") or AskForm(prefix="ask"),
        extend_form=forms.get("extend_form") or ExtendForm(prefix="extend"),
        is_mine=case.assignee_id == request.user.pk,
    )
    return context


@caseworker_required
def case(request, reference: str):
    """The decision, its inputs and explanation, the model card, the statement and history."""
    found = _case_or_404(reference)
    audit_record(
        actor=Actor.user(request.user),
        action=Action.DECISION_CASE_VIEWED,
        object_type="decision",
        object_id=found.decision_id,
        data={"reference": found.reference},
    )
    return render(request, "reviews/caseworker_case.html", _case_context(request, found))


@caseworker_required
@require_POST
def take(request, reference: str):
    found = _case_or_404(reference)
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


@caseworker_required
@require_POST
def uphold(request, reference: str):
    return _act(
        request,
        reference,
        form_name="uphold_form",
        build_form=lambda case: RationaleForm(request.POST, prefix="uphold"),
        perform=lambda case, data: casework.review_uphold(
            request=case, user=request.user, rationale=data["rationale"]
        ),
        done_message=_("Case %(reference)s: decision upheld."),
    )


@caseworker_required
@require_POST
def overturn(request, reference: str):
    def build(case):
        labels = case.decision.model_version.output["class_labels"]
        return OverturnForm(request.POST, prefix="overturn", outcomes=labels)

    return _act(
        request,
        reference,
        form_name="overturn_form",
        build_form=build,
        perform=lambda case, data: casework.review_overturn(
            request=case, user=request.user, new_outcome=data["new_outcome"], rationale=data["rationale"]
        ),
        done_message=_("Case %(reference)s: decision overturned; the new decision is recorded."),
    )


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
        done_message=_("Case %(reference)s: your question was sent to the subject."),
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
