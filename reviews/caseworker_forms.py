"""Forms of the caseworker's workspace. They validate input; services decide (an ApplicationError
from a service becomes form errors through `config.errors.add_service_errors`)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from config.text import NoControlCharacters

from .models import ReviewRequest
from .services.steps import MAX_TEXT, MIN_RATIONALE

# The decision form keeps the field names of the overturn form it grew from (`overturn-...`):
# its Uphold button posts the same fields to uphold.
DECIDE_PREFIX = "overturn"


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
            (ReviewRequest.Kind.RECTIFY, _("Rectification")),
            (ReviewRequest.Kind.REFERRAL, _("Referred before effect")),
            (ReviewRequest.Kind.STAFF, _("Opened by staff")),
        ]
        self.fields["status"].choices = [
            ("open", _("Open")),
            ("all", _("All")),
            (ReviewRequest.Status.RECEIVED, _("Received")),
            (ReviewRequest.Status.IN_REVIEW, _("Being reviewed")),
            (ReviewRequest.Status.INFO_REQUESTED, _("Waiting for the person")),
            (ReviewRequest.Status.UPHELD, _("Upheld")),
            (ReviewRequest.Status.OVERTURNED, _("Overturned")),
            (ReviewRequest.Status.RECTIFIED, _("Rectified")),
            (ReviewRequest.Status.REJECTED, _("Correction refused")),
        ]
        self.fields["assignee"].choices = [
            ("", _("Anyone")),
            ("me", _("Me")),
            ("none", _("Nobody yet")),
        ] + [(str(u.pk), u.get_username()) for u in caseworkers]


def _text(label, help_text, *, missing, rows: int) -> forms.CharField:
    return forms.CharField(
        label=label,
        help_text=help_text,
        min_length=MIN_RATIONALE,
        max_length=MAX_TEXT,
        validators=[NoControlCharacters(multiline=True)],
        widget=forms.Textarea(attrs={"rows": rows, "maxlength": MAX_TEXT}),
        error_messages={
            "required": missing,
            "min_length": _("Write at least %(limit_value)d characters (this has %(show_value)d)."),
        },
    )


class DecideForm(forms.Form):
    """Uphold or overturn: the reasons, and for an overturn the outcome that replaces the one in
    force. The outcome in force is never offered as the new outcome, bound or not: to keep it, the
    caseworker upholds. `in_force` is the id of the decision in force the caseworker was shown;
    the review services refuse the decision if another review changed the outcome since."""

    new_outcome = forms.ChoiceField(
        label=_("New outcome"),
        required=False,
        error_messages={
            "invalid_choice": _(
                "“%(value)s” cannot be the new outcome: choose one of the outcomes offered. "
                "To keep the outcome in force, uphold the decision."
            ),
            "required": _("Choose the new outcome, or uphold the decision."),
        },
    )
    rationale = _text(
        _("Your reasons"),
        _("The person will read them."),
        missing=_("Write your reasons for the decision."),
        rows=3,
    )
    in_force = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, in_force: str, outcomes, overturning: bool = False, **kwargs):
        kwargs.setdefault("prefix", DECIDE_PREFIX)
        super().__init__(*args, **kwargs)
        self.fields["new_outcome"].required = overturning
        self.offer(in_force=in_force, outcomes=outcomes)

    def offer(self, *, in_force: str, outcomes) -> None:
        """Offer every outcome but the one in force (again after a service refusal, when another
        review may have changed it)."""
        field = self.fields["new_outcome"]
        others = [(o, o) for o in outcomes if o != in_force]
        field.choices = [("", _("Choose…"))] + others if len(others) > 1 else others
        field.help_text = _("Only for an overturn: the outcome that replaces “%(outcome)s”.") % {
            "outcome": in_force
        }


class AskForm(forms.Form):
    question = _text(
        _("What do you need from the person?"),
        _("They answer on their page; the deadline keeps running."),
        missing=_("Write your question."),
        rows=4,
    )


class ExtendForm(forms.Form):
    months = forms.TypedChoiceField(
        label=_("Extend by"),
        coerce=int,
        choices=[(1, _("one month")), (2, _("two months"))],
    )
    reason = _text(
        _("Why more time is necessary"),
        _("The person will read this."),
        missing=_("Write why more time is necessary."),
        rows=4,
    )


class RectifyForm(forms.Form):
    """A rectification: accept or reject each proposed correction, with reasons the person reads.
    `in_force` as in DecideForm: the outcome the caseworker was shown."""

    rationale = _text(
        _("Your reasons"),
        _("The person will read them: say why each correction was accepted or not."),
        missing=_("Write your reasons for the decision."),
        rows=3,
    )
    in_force = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, proposals: list[dict], **kwargs):
        kwargs.setdefault("prefix", "rectify")
        super().__init__(*args, **kwargs)
        for proposal in reversed(proposals):
            field = forms.ChoiceField(
                label=_("%(label)s: “%(used)s” → “%(proposed)s”") % proposal,
                choices=[("accept", _("Accept")), ("reject", _("Reject"))],
                widget=forms.RadioSelect,
                error_messages={"required": _("Accept or reject this correction.")},
            )
            self.fields = {"field_" + proposal["name"]: field, **self.fields}

    def accepted(self) -> list[str]:
        return [
            name.removeprefix("field_")
            for name, choice in self.cleaned_data.items()
            if name.startswith("field_") and choice == "accept"
        ]
