from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("audit", "0003_export")]

    operations = [
        migrations.AddField(
            model_name="export",
            name="heartbeat_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="export",
            name="attempts",
            field=models.PositiveSmallIntegerField(default=0),
        ),
    ]
