import django_filters

from .models import Decision


class DecisionFilter(django_filters.FilterSet):
    model = django_filters.CharFilter(field_name="model_version__model__name")
    model_version = django_filters.CharFilter(field_name="model_version__version")
    decided_after = django_filters.IsoDateTimeFilter(field_name="decided_at", lookup_expr="gte")
    decided_before = django_filters.IsoDateTimeFilter(field_name="decided_at", lookup_expr="lt")

    class Meta:
        model = Decision
        fields = ["subject_ref", "reference", "outcome", "favourable", "kind"]
