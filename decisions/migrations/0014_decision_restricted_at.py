from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("decisions", "0013_assisted_decisions"),
    ]

    operations = [
        migrations.AddField(
            model_name="decision",
            name="restricted_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
