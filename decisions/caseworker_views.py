"""The caseworker's workspace: the review queue, the case page and its actions, and the
automation-bias signals for supervisors. Sign-in and the `caseworker` group are required; anyone
else signed in gets 403."""

from __future__ import annotations

from functools import wraps

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from audit.models import Action
from audit.services import Actor, audit_record
from config.errors import ApplicationError

from . import reviews
from .auth import AUDITOR, CASEWORKER, has_role
from .forms import AskForm, ExtendForm, OverturnForm, QueueFilterForm, RationaleForm, add_service_errors
from .models import DecisionModel
from .portal_views import decision_presentation


def _role_required(allowed):
    def decorator(view):
        @wraps(view)
        @never_cache
        def wrapped(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not allowed(request.user):
                raise PermissionDenied(_("This page is for caseworkers."))
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


caseworker_required = _role_required(lambda user: has_role(user, CASEWORKER))
# Supervisors: caseworkers with staff status, and auditors (read-only oversight).
supervisor_required = _role_required(
    lambda user: has_role(user, AUDITOR) or (has_role(user, CASEWORKER) and user.is_staff)
)


@caseworker_required
def queue(request):
    """Open requests, earliest due first; overdue ones marked; filters; take a case."""
    form = QueueFilterForm(
        request.GET or None,
        models=DecisionModel.objects.order_by("name").values_list("name", flat=True),
        caseworkers=reviews.caseworkers(),
    )
    filters = form.cleaned_data if form.is_valid() else {}
    rows = list(
        reviews.review_queue(
            model=filters.get("model", ""),
            kind=filters.get("kind", ""),
            status=filters.get("status", "") or "open",
            assignee=filters.get("assignee", ""),
            user=request.user,
        )[:500]
    )
    now = timezone.now()
    for row in rows:
        row.overdue = reviews.is_overdue(row, now)
        row.days_left = reviews.days_left(row, now)
    return render(request, "decisions/caseworker_queue.html", {"form": form, "rows": rows, "now": now})


def _case_or_404(reference: str):
    found = reviews.review_case(reference)
    if found is None:
        raise Http404(_("No such case."))
    return found


def _case_context(request, case, **forms) -> dict:
    decision = case.decision
    current = reviews.effective_decision(decision)
    labels = decision.model_version.output["class_labels"]
    context = decision_presentation(decision)
    context.update(
        case=case,
        current=current,
        actions=list(case.actions.all()),
        others=list(reviews.other_requests_of_decision(case)),
        overdue=reviews.is_overdue(case),
        days_left=reviews.days_left(case),
        can_extend=reviews.can_extend(case),
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
    return render(request, "decisions/caseworker_case.html", _case_context(request, found))


@caseworker_required
@require_POST
def take(request, reference: str):
    found = _case_or_404(reference)
    try:
        reviews.review_take(request=found, user=request.user)
    except ApplicationError as exc:
        messages.error(request, _flatten(exc))
        return redirect("decisions:queue")
    messages.success(request, _("You took case %(reference)s.") % {"reference": found.reference})
    return redirect("decisions:case", reference=found.reference)


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
            return redirect("decisions:case", reference=found.reference)
    found = _case_or_404(reference)
    return render(
        request,
        "decisions/caseworker_case.html",
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
        perform=lambda case, data: reviews.review_uphold(
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
        perform=lambda case, data: reviews.review_overturn(
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
        perform=lambda case, data: reviews.review_request_information(
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
        perform=lambda case, data: reviews.review_extend(
            request=case, user=request.user, months=data["months"], reason=data["reason"]
        ),
        done_message=_("Case %(reference)s: deadline extended."),
    )


@supervisor_required
def signals(request):
    """Automation-bias signals per caseworker (AI Act Art. 14(4)(b))."""
    return render(
        request,
        "decisions/caseworker_signals.html",
        {
            "signals": reviews.automation_bias_signals(),
            "min_cases": reviews.BIAS_MIN_CASES,
            "agreement": reviews.BIAS_AGREEMENT,
            "median_minutes": reviews.BIAS_MEDIAN_SECONDS / 60,
        },
    )
