"""Forms of the subject's portal and the caseworker's workspace. They validate input; services
decide (an ApplicationError from a service becomes form errors through
`config.errors.add_service_errors`)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import ReviewRequest
from .services.steps import MAX_TEXT, MIN_RATIONALE

TEXTAREA = {"rows": 6, "maxlength": MAX_TEXT}


def _email_field() -> forms.EmailField:
    return forms.EmailField(
        label=_("Your e-mail address (optional)"),
        help_text=_("If you give it, we e-mail you when we receive your request and when we answer."),
        required=False,
    )


class ViewRequestForm(forms.Form):
    statement = forms.CharField(
        label=_("Your point of view"),
        help_text=_("Tell us anything you think we should know about your situation."),
        max_length=MAX_TEXT,
        widget=forms.Textarea(attrs=TEXTAREA),
    )
    contact_email = _email_field()


class ContestRequestForm(forms.Form):
    grounds = forms.ChoiceField(
        label=_("Why do you contest the decision?"),
        choices=[
            (ReviewRequest.Grounds.DATA_WRONG, _("The data used about me is wrong or incomplete")),
            (ReviewRequest.Grounds.REASONING, _("The reasons do not fit my situation")),
            (ReviewRequest.Grounds.DISCRIMINATION, _("I believe I was treated unfairly")),
            (ReviewRequest.Grounds.OTHER, _("Another reason")),
        ],
        widget=forms.RadioSelect,
    )
    statement = forms.CharField(
        label=_("Explain in your own words"),
        help_text=_("If some data is wrong, say which and what it should be."),
        max_length=MAX_TEXT,
        widget=forms.Textarea(attrs=TEXTAREA),
    )
    contact_email = _email_field()


class HumanInterventionForm(forms.Form):
    statement = forms.CharField(
        label=_("Anything you want the person to know (optional)"),
        required=False,
        max_length=MAX_TEXT,
        widget=forms.Textarea(attrs=TEXTAREA),
    )
    contact_email = _email_field()


REQUEST_FORMS = {
    ReviewRequest.Kind.VIEW: ViewRequestForm,
    ReviewRequest.Kind.CONTEST: ContestRequestForm,
    ReviewRequest.Kind.HUMAN_INTERVENTION: HumanInterventionForm,
}


class ReplyForm(forms.Form):
    statement = forms.CharField(
        label=_("Your answer"), max_length=MAX_TEXT, widget=forms.Textarea(attrs=TEXTAREA)
    )


# ---------------------------------------------------------------------------- caseworker
class QueueFilterForm(forms.Form):
    model = forms.ChoiceField(label=_("Model"), required=False)
    kind = forms.ChoiceField(label=_("Kind"), required=False)
    status = forms.ChoiceField(label=_("Status"), required=False)
    assignee = forms.ChoiceField(label=_("Assignee"), required=False)

    def __init__(self, *args, models=(), caseworkers=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["model"].choices = [("", _("All models"))] + [(m, m) for m in models]
        self.fields["kind"].choices = [("", _("All kinds"))] + [
            (ReviewRequest.Kind.VIEW, _("Point of view")),
            (ReviewRequest.Kind.CONTEST, _("Contest")),
            (ReviewRequest.Kind.HUMAN_INTERVENTION, _("Human intervention")),
        ]
        self.fields["status"].choices = [
            ("open", _("Open")),
            ("all", _("All")),
            (ReviewRequest.Status.RECEIVED, _("Received")),
            (ReviewRequest.Status.IN_REVIEW, _("Being reviewed")),
            (ReviewRequest.Status.INFO_REQUESTED, _("Waiting for the subject")),
            (ReviewRequest.Status.UPHELD, _("Upheld")),
            (ReviewRequest.Status.OVERTURNED, _("Overturned")),
        ]
        self.fields["assignee"].choices = [
            ("", _("Anyone")),
            ("me", _("Me")),
            ("none", _("Nobody yet")),
        ] + [(str(u.pk), u.get_username()) for u in caseworkers]


class RationaleForm(forms.Form):
    rationale = forms.CharField(
        label=_("Your reasons (the subject will read them)"),
        min_length=MIN_RATIONALE,
        max_length=MAX_TEXT,
        widget=forms.Textarea(attrs={"rows": 5, "maxlength": MAX_TEXT}),
    )


class OverturnForm(RationaleForm):
    new_outcome = forms.ChoiceField(label=_("New outcome"))

    def __init__(self, *args, outcomes=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["new_outcome"].choices = [(o, o) for o in outcomes]
        self.order_fields(["new_outcome", "rationale"])


class AskForm(forms.Form):
    question = forms.CharField(
        label=_("What do you need from the subject?"),
        min_length=MIN_RATIONALE,
        max_length=MAX_TEXT,
        widget=forms.Textarea(attrs={"rows": 4, "maxlength": MAX_TEXT}),
    )


class ExtendForm(forms.Form):
    months = forms.TypedChoiceField(
        label=_("Extend by"),
        coerce=int,
        choices=[(1, _("one month")), (2, _("two months"))],
    )
    reason = forms.CharField(
        label=_("Why more time is necessary (the subject will read this)"),
        min_length=MIN_RATIONALE,
        max_length=MAX_TEXT,
        widget=forms.Textarea(attrs={"rows": 4, "maxlength": MAX_TEXT}),
    )
