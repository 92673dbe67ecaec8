from django.db import migrations, models


def make_histories_linear(apps, schema_editor):
    """Before this migration two reviews of one decision could each supersede the same decision,
    leaving rival outcomes. The pages took the newest as the one in force; this keeps that reading
    and records it in the ledger: each later rival now supersedes the end of the line before it,
    so every history is a line (automated -> human -> human) and the next migration's constraint
    holds. (Two migrations: PostgreSQL refuses to add the constraint in the transaction that
    updated rows its deferred foreign keys still have to check.)"""
    Decision = apps.get_model("decisions", "Decision")

    def successor(of, *, besides=None):
        return Decision.objects.filter(supersedes=of).exclude(pk=besides).order_by("decided_at", "id").first()

    forked = (
        Decision.objects.filter(supersedes__isnull=False)
        .values("supersedes")
        .annotate(n=models.Count("id"))
        .filter(n__gt=1)
        .values_list("supersedes", flat=True)
    )
    for parent in list(forked):
        rivals = list(Decision.objects.filter(supersedes=parent).order_by("decided_at", "id"))
        tail = rivals[0]
        for rival in rivals[1:]:
            while (newer := successor(tail, besides=rival.pk)) is not None:
                tail = newer
            Decision.objects.filter(pk=rival.pk).update(supersedes=tail)
            tail = rival


class Migration(migrations.Migration):
    dependencies = [
        ("decisions", "0009_version_lifecycle"),
    ]

    operations = [
        migrations.RunPython(make_histories_linear, migrations.RunPython.noop),
    ]
