"""Forms of the subject's portal (the caseworker's are in caseworker_forms.py). They validate
input; services decide (an ApplicationError from a service becomes form errors through
`config.errors.add_service_errors`)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from config.text import NoControlCharacters

from .models import ReviewRequest
from .services.steps import MAX_TEXT

TEXTAREA = {"rows": 6, "maxlength": MAX_TEXT}
# The person's forms say what to do about an error, in the field's own terms (GOV.UK's pattern).
TOO_LONG = _("Write %(limit_value)s characters or fewer (you wrote %(show_value)s)")


def _email_field() -> forms.EmailField:
    return forms.EmailField(
        label=_("Your e-mail address (optional)"),
        help_text=_("If you give it, we e-mail you when we receive your request and when we answer."),
        required=False,
        error_messages={"invalid": _("Enter an e-mail address in the right format, like name@example.com")},
        widget=forms.EmailInput(attrs={"autocomplete": "email", "spellcheck": "false"}),
    )


def _statement(label, *, help_text="", missing=None) -> forms.CharField:
    """A text the person writes; required when `missing` says what to do if it is left empty."""
    messages = {"max_length": TOO_LONG}
    if missing:
        messages["required"] = missing
    return forms.CharField(
        label=label,
        help_text=help_text,
        required=missing is not None,
        max_length=MAX_TEXT,
        widget=forms.Textarea(attrs=TEXTAREA),
        error_messages=messages,
        validators=[NoControlCharacters(multiline=True)],
    )


class SubjectForm(forms.Form):
    """A request form of the person's; `reading` gives hints that fit a decision that read
    something (a digit on a form) rather than decided an application."""

    reading_help_texts: dict = {}

    def __init__(self, *args, reading: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if reading:
            for name, text in self.reading_help_texts.items():
                self.fields[name].help_text = text


class ViewRequestForm(SubjectForm):
    statement = _statement(
        _("Your point of view"),
        help_text=_("Tell us anything you think we should know about your situation."),
        missing=_("Write your point of view"),
    )
    contact_email = _email_field()


class ContestRequestForm(SubjectForm):
    grounds = forms.ChoiceField(
        label=_("Why do you contest the decision?"),
        choices=[
            (ReviewRequest.Grounds.DATA_WRONG, _("The data used about me is wrong or incomplete")),
            (ReviewRequest.Grounds.REASONING, _("The reasons do not fit my situation")),
            (ReviewRequest.Grounds.DISCRIMINATION, _("I believe I was treated unfairly")),
            (ReviewRequest.Grounds.OTHER, _("Another reason")),
        ],
        widget=forms.RadioSelect,
        error_messages={
            "required": _("Choose why you contest the decision"),
            "invalid_choice": _("Choose one of the reasons listed"),
        },
    )
    statement = _statement(
        _("Explain in your own words"),
        help_text=_("If some data is wrong, say which and what it should be."),
        missing=_("Explain why you contest the decision"),
    )
    contact_email = _email_field()
    reading_help_texts = {
        "statement": _("If you think it was misread, say what it should have been read as.")
    }


class HumanInterventionForm(SubjectForm):
    statement = _statement(_("Anything you want the person to know (optional)"))
    contact_email = _email_field()


PREFIX = "value_"


class RectifyRequestForm(forms.Form):
    """Some of my data is wrong: a value for each field to correct (the others left empty), with
    the value used as a hint. The service checks the values against the version's schema."""

    statement = _statement(
        _("Anything else we should know (optional)"),
        help_text=_("For example, how we can check the correct values."),
    )
    contact_email = _email_field()

    def __init__(self, *args, schema, features: dict, **kwargs):
        super().__init__(*args, **kwargs)
        corrigible = [f for f in schema.inputs if f.type != "image"]
        for feature in reversed(corrigible):
            self.fields = {PREFIX + feature.name: _correction_field(feature, features), **self.fields}

    def clean(self):
        data = super().clean()
        if not self.errors and not self.corrections():
            raise forms.ValidationError(_("Give the correct value of at least one field"))
        return data

    def corrections(self) -> dict:
        return {
            name[len(PREFIX) :]: value
            for name, value in self.cleaned_data.items()
            if name.startswith(PREFIX) and value not in (None, "")
        }

    def add_correction_errors(self, fields: dict) -> None:
        """The service's refusals, each on its own field."""
        for name, message in fields.items():
            field = PREFIX + name
            self.add_error(field if field in self.fields else None, message)


def _correction_field(feature, features: dict) -> forms.Field:
    used = feature.display_value(features.get(feature.name))
    hint = _("We used: %(value)s.") % {"value": used}
    if feature.description:
        hint = f"{feature.description} {hint}"
    if feature.type == "categorical":
        choices = [("", _("No change"))] + [(c.value, c.label) for c in feature.categories]
        return forms.ChoiceField(
            label=feature.label,
            help_text=hint,
            required=False,
            choices=choices,
            error_messages={"invalid_choice": _("Choose one of the values listed")},
        )
    kind = forms.IntegerField if feature.integer else forms.FloatField
    return kind(
        label=f"{feature.label} ({feature.unit})" if feature.unit else feature.label,
        help_text=hint,
        required=False,
        min_value=feature.minimum,
        max_value=feature.maximum,
        error_messages={"invalid": _("Enter a number")},
        widget=forms.NumberInput(attrs={"inputmode": "decimal", "step": "any"}),
    )


REQUEST_FORMS = {
    ReviewRequest.Kind.VIEW: ViewRequestForm,
    ReviewRequest.Kind.CONTEST: ContestRequestForm,
    ReviewRequest.Kind.HUMAN_INTERVENTION: HumanInterventionForm,
}


class ReplyForm(forms.Form):
    statement = _statement(_("Your answer"), missing=_("Write your answer"))
