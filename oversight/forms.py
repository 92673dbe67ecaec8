"""Forms of the auditor's pages: filters of the timeline and export requests."""

from __future__ import annotations

from django import forms

from audit.models import Action, ActorType

from .models import Export


class TimelineFilterForm(forms.Form):
    action = forms.ChoiceField(required=False, choices=[("", "any")] + list(Action.choices))
    actor_type = forms.ChoiceField(required=False, choices=[("", "any")] + list(ActorType.choices))
    object_type = forms.CharField(required=False, max_length=40)
    object_id = forms.CharField(required=False, max_length=64)
    date_from = forms.DateField(required=False, help_text="from this day (UTC)")
    date_to = forms.DateField(required=False, help_text="up to and including this day (UTC)")
    before = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)


class ExportForm(forms.Form):
    kind = forms.ChoiceField(choices=Export.Kind.choices)
    format = forms.ChoiceField(choices=Export.Format.choices)
    mode = forms.ChoiceField(
        choices=Export.Mode.choices,
        initial=Export.Mode.FILE,
        help_text="a worker writes large exports to a file; small ones can stream straight away",
    )
    model = forms.CharField(required=False, max_length=64)
    model_version = forms.CharField(required=False, max_length=64)
    outcome = forms.CharField(required=False, max_length=64)
    actions = forms.MultipleChoiceField(required=False, choices=Action.choices, label="event kinds")
    date_from = forms.DateField(required=False)
    date_to = forms.DateField(required=False, help_text="inclusive")

    def filters(self) -> dict:
        data = self.cleaned_data
        return {
            "model": data["model"],
            "model_version": data["model_version"],
            "outcome": data["outcome"],
            "actions": data["actions"],
            "date_from": data["date_from"].isoformat() if data["date_from"] else "",
            "date_to": data["date_to"].isoformat() if data["date_to"] else "",
        }
