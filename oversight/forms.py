"""Forms of the auditor's pages: filters of the timeline and export requests.

The export form offers what exists (registered models, their versions, the outcomes they can
decide) as choices and days as date pickers; `export_filters.ExportFilters.from_raw` still checks
the filters, for the API as for this form.
"""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from audit.models import Action, ActorType
from config.text import NoControlCharacters

from .event_display import OBJECT_LABELS
from .models import Export
from .selectors import export_filter_options


class DayInput(forms.DateInput):
    """The browser's date picker; the value travels as an ISO date (2026-01-31)."""

    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs, format="%Y-%m-%d")


class TimelineFilterForm(forms.Form):
    action = forms.ChoiceField(
        required=False, label=_("Action"), choices=[("", _("any"))] + list(Action.choices)
    )
    actor_type = forms.ChoiceField(
        required=False, label=_("Actor"), choices=[("", _("any"))] + list(ActorType.choices)
    )
    object_type = forms.ChoiceField(
        required=False, label=_("Object"), choices=[("", _("any"))] + list(OBJECT_LABELS.items())
    )
    object_id = forms.CharField(
        required=False, max_length=64, label=_("Object id"), validators=[NoControlCharacters()]
    )
    subject_ref = forms.CharField(
        required=False,
        max_length=128,
        validators=[NoControlCharacters()],
        label=_("Data subject"),
        help_text=_("the controller's reference of a person: events about their decisions"),
    )
    date_from = forms.DateField(
        required=False, label=_("From"), widget=DayInput, help_text=_("from this day (UTC)")
    )
    date_to = forms.DateField(
        required=False, label=_("To"), widget=DayInput, help_text=_("up to and including this day (UTC)")
    )
    before = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)


class ExportForm(forms.Form):
    kind = forms.ChoiceField(label=_("What"), choices=Export.Kind.choices)
    format = forms.ChoiceField(label=_("Format"), choices=Export.Format.choices)
    mode = forms.ChoiceField(
        label=_("Delivery"),
        choices=Export.Mode.choices,
        initial=Export.Mode.FILE,
        help_text=_("a worker writes large exports to a file; small ones can stream straight away"),
    )
    model = forms.ChoiceField(required=False, label=_("Model"))
    model_version = forms.ChoiceField(
        required=False, label=_("Model version"), help_text=_("implies its model")
    )
    outcome = forms.ChoiceField(required=False, label=_("Outcome"), help_text=_("decisions only"))
    actions = forms.MultipleChoiceField(
        required=False, choices=Action.choices, label=_("Event kinds"), help_text=_("events only; none: all")
    )
    date_from = forms.DateField(
        required=False, label=_("From"), widget=DayInput, help_text=_("from this day (UTC)")
    )
    date_to = forms.DateField(
        required=False, label=_("To"), widget=DayInput, help_text=_("up to and including this day (UTC)")
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        options = export_filter_options()
        self.fields["model"].choices = [("", _("any model"))] + [(m, m) for m in options.models]
        # A version's value names its model too ("credit-risk@1.0.0"): versions repeat across models.
        self.fields["model_version"].choices = [("", _("any version"))] + [
            (
                model,
                [
                    (f"{model}@{version}", f"{model}@{version}")
                    for m, version in options.versions
                    if m == model
                ],
            )
            for model in options.models
        ]
        self.fields["outcome"].choices = [("", _("any outcome"))] + [
            (outcome, f"{outcome} ({', '.join(models)})") for outcome, models in options.outcomes
        ]

    def clean(self):
        data = super().clean()
        model, _sep, version = (data.get("model_version") or "").partition("@")
        if version and data.get("model") and data["model"] != model:
            self.add_error("model_version", _("this version is of another model"))
        return data

    def filters(self) -> dict:
        data = self.cleaned_data
        model, _sep, version = (data["model_version"] or "").partition("@")
        return {
            "model": data["model"] or model,
            "model_version": version,
            "outcome": data["outcome"],
            "actions": data["actions"],
            "date_from": data["date_from"].isoformat() if data["date_from"] else "",
            "date_to": data["date_to"].isoformat() if data["date_to"] else "",
        }


class ErasureForm(forms.Form):
    """A data subject's erasure request, entered by an auditor; oversight.erasure checks it."""

    subject_ref = forms.CharField(
        max_length=128, label=_("The person's reference"), validators=[NoControlCharacters()]
    )
    reason = forms.CharField(
        max_length=200,
        validators=[NoControlCharacters()],
        label=_("Ground of the request"),
        help_text=_("For the audit log, e.g. “Art. 17(1)(b): consent withdrawn”. Write no personal data."),
    )
