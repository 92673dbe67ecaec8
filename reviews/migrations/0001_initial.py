# The Article 22 workflow's models, taken over from `decisions` (its migration 0008) with their
# tables as they are: only Django's record of the models changes, and the content types follow
# them, so permissions granted on them keep working.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def move_content_types(apps, schema_editor):
    content_type = apps.get_model("contenttypes", "ContentType")
    for model in ("reviewrequest", "caseaction"):
        if not content_type.objects.filter(app_label="reviews", model=model).exists():
            content_type.objects.filter(app_label="decisions", model=model).update(app_label="reviews")


def restore_content_types(apps, schema_editor):
    content_type = apps.get_model("contenttypes", "ContentType")
    for model in ("reviewrequest", "caseaction"):
        if not content_type.objects.filter(app_label="decisions", model=model).exists():
            content_type.objects.filter(app_label="reviews", model=model).update(app_label="decisions")


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("decisions", "0008_review_models_moved"),
        ("contenttypes", "0002_remove_content_type_name"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='ReviewRequest',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                        ('reference', models.CharField(max_length=16, unique=True)),
                        ('kind', models.CharField(choices=[('view', 'Express my point of view'), ('contest', 'Contest the decision'), ('human_intervention', 'Ask for a person to decide')], max_length=24)),
                        ('status', models.CharField(choices=[('received', 'Received'), ('in_review', 'Being reviewed'), ('info_requested', 'Waiting for your information'), ('upheld', 'Decision confirmed'), ('overturned', 'Decision changed')], default='received', max_length=16)),
                        ('grounds', models.CharField(blank=True, choices=[('data_wrong', 'The data used about me is wrong or incomplete'), ('reasoning', 'The reasons do not fit my situation'), ('discrimination', 'I believe I was treated unfairly'), ('other', 'Another reason')], max_length=24)),
                        ('statement', models.TextField(blank=True)),
                        ('contact_email', models.EmailField(blank=True, max_length=254)),
                        ('received_at', models.DateTimeField(db_index=True)),
                        ('due_at', models.DateTimeField(db_index=True)),
                        ('original_due_at', models.DateTimeField()),
                        ('extension_months', models.PositiveSmallIntegerField(default=0)),
                        ('extended_at', models.DateTimeField(blank=True, null=True)),
                        ('extension_reason', models.TextField(blank=True)),
                        ('language', models.CharField(default='en', max_length=8)),
                        ('assigned_at', models.DateTimeField(blank=True, null=True)),
                        ('info_question', models.TextField(blank=True)),
                        ('closed_at', models.DateTimeField(blank=True, null=True)),
                        ('rationale', models.TextField(blank=True)),
                        ('assignee', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='review_requests', to=settings.AUTH_USER_MODEL)),
                        ('decision', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='review_requests', to='decisions.decision')),
                        ('human_decision', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='decisions.decision')),
                    ],
                    options={
                        'db_table': 'decisions_reviewrequest',
                        'ordering': ['due_at', 'id'],
                    },
                ),
                migrations.CreateModel(
                    name='CaseAction',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('kind', models.CharField(choices=[('received', 'Request received'), ('taken', 'Case taken'), ('info_requested', 'Information asked for'), ('subject_replied', 'Information supplied'), ('extended', 'Deadline extended'), ('upheld', 'Decision upheld'), ('overturned', 'Decision overturned')], max_length=24)),
                        ('rationale', models.TextField(blank=True)),
                        ('agrees_with_model', models.BooleanField(blank=True, null=True)),
                        ('seconds_spent', models.FloatField(blank=True, null=True)),
                        ('data', models.JSONField(blank=True, default=dict)),
                        ('created_at', models.DateTimeField(db_index=True)),
                        ('actor', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('request', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='actions', to='reviews.reviewrequest')),
                    ],
                    options={
                        'db_table': 'decisions_caseaction',
                        'ordering': ['created_at', 'id'],
                    },
                ),
                migrations.AddIndex(
                    model_name='reviewrequest',
                    index=models.Index(fields=['status', 'due_at'], name='decisions_r_status_604ed1_idx'),
                ),
                migrations.AddConstraint(
                    model_name='reviewrequest',
                    constraint=models.CheckConstraint(condition=models.Q(('due_at__gte', models.F('original_due_at'))), name='review_due_not_earlier'),
                ),
                migrations.AddConstraint(
                    model_name='reviewrequest',
                    constraint=models.CheckConstraint(condition=models.Q(('extension_months__lte', 2)), name='review_extension_at_most_two'),
                ),
                migrations.AddConstraint(
                    model_name='reviewrequest',
                    constraint=models.CheckConstraint(condition=models.Q(models.Q(('kind', 'contest'), _negated=True), models.Q(('grounds', ''), _negated=True), _connector='OR'), name='review_contest_has_grounds'),
                ),
                migrations.AddConstraint(
                    model_name='reviewrequest',
                    constraint=models.CheckConstraint(condition=models.Q(('closed_at__isnull', True), models.Q(('rationale', ''), _negated=True), _connector='OR'), name='review_closed_has_rationale'),
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(move_content_types, restore_content_types),
    ]
