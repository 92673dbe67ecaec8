import django_filters

from decisions.models import Decision

# `?favourable=` takes these; anything else is a 400 naming the parameter. django-filter's own
# BooleanFilter reads an unknown value as "no filter", and would answer every decision.
BOOLEAN_VALUES = {"true": True, "false": False, "1": True, "0": False}


class DecisionFilter(django_filters.FilterSet):
    model = django_filters.CharFilter(field_name="model_version__model__name")
    model_version = django_filters.CharFilter(field_name="model_version__version")
    decided_after = django_filters.IsoDateTimeFilter(field_name="decided_at", lookup_expr="gte")
    decided_before = django_filters.IsoDateTimeFilter(field_name="decided_at", lookup_expr="lt")
    favourable = django_filters.TypedChoiceFilter(
        choices=[(value, value) for value in BOOLEAN_VALUES], coerce=BOOLEAN_VALUES.__getitem__
    )

    class Meta:
        model = Decision
        # `status=pending_review`: the controller's decisions still waiting for a person.
        fields = ["subject_ref", "reference", "outcome", "favourable", "kind", "status"]

    def is_valid(self):
        # django-filter reads `?decided_after=` as "no filter", so a client whose variable was
        # empty got every decision instead of the ones it asked for; an empty value is a 400.
        valid = super().is_valid()
        for name in self.filters:
            if self.data.get(name) == "":
                self.form.add_error(name, "must not be empty; leave the parameter out not to filter by it")
                valid = False
        return valid
