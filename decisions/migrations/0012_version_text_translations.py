from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("decisions", "0011_decision_superseded_once"),
    ]

    operations = [
        migrations.AddField(
            model_name="modelversion",
            name="text_translations",
            field=models.JSONField(blank=True, default=dict),
        ),
    ]
