from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("decisions", "0010_decision_histories_linear"),
    ]

    operations = [
        migrations.AddConstraint(
            model_name="decision",
            constraint=models.UniqueConstraint(fields=("supersedes",), name="decision_superseded_once"),
        ),
    ]
