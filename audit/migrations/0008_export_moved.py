# The Export model moved to the `oversight` app (its migration 0001 takes it over). Its table
# stays where it is: this changes only Django's record of the model.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("audit", "0007_chain_append_function")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="Export")],
            database_operations=[],
        )
    ]
