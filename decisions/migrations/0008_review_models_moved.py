# The Article 22 workflow's models moved to the `reviews` app (its migration 0001 takes them
# over). Their tables stay where they are: this changes only Django's record of the models.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("decisions", "0007_registry_notify")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="CaseAction"),
                migrations.DeleteModel(name="ReviewRequest"),
            ],
            database_operations=[],
        )
    ]
