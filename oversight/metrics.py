"""Prometheus metrics, computed from the database when Prometheus scrapes `/metrics`.

Nothing is counted on the decision or explanation path: every figure is an aggregate query at
scrape time (a handful per scrape), so each web process answers the same numbers and the ingest
path pays nothing. Decisions are a counter built from the table's totals (rows are never deleted:
erasure keeps the skeleton), so `rate()` gives decisions per second. The latency histogram covers
the explanations queued in the last hour only, to stay on the `queued_at` index: read it with
`histogram_quantile` directly, not through `rate()`.

The endpoint is for the monitoring system alone, which holds METRICS_TOKEN: no staff role or API
key opens it (the figures are operational, not personal, but say how busy and how late the
controller is). Unset, the endpoint does not exist.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from datetime import timedelta

from django.conf import settings
from django.db.models import Count, DurationField, ExpressionWrapper, F, Max, Min, Q, Sum
from django.http import Http404, HttpResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from django_prometheus.exports import ExportToDjangoView
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from audit.models import Checkpoint
from decisions.models import Decision, ModelVersion
from explanations.models import Explanation
from explanations.queue import queue_for
from reviews.models import ReviewRequest
from webhooks.selectors import delivery_figures

from .models import Export

# Seconds from queued to finished; a batch worker's explanations take well under a second each,
# a backlog minutes.
LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0)
LATENCY_WINDOW = timedelta(hours=1)


class RationaleCollector:
    """Every Rationale figure, read at scrape time in eight queries."""

    def collect(self) -> Iterator:
        now = timezone.now()
        versions = _Versions(
            (v.pk, v)
            for v in ModelVersion.objects.select_related("model").only("version", "status", "model__name")
        )
        yield from _model_versions(versions)
        yield from _decisions(versions)
        yield from _explanation_backlog(versions, now)
        yield from _explanations_last_hour(versions, now)
        yield from _review_requests(now)
        yield from _exports()
        yield from _checkpoint()
        yield from _webhook_deliveries()


class _Versions(dict):
    """Model versions by id; one registered after the first query is read when a row names it."""

    def __missing__(self, pk: int) -> ModelVersion:
        self[pk] = (
            ModelVersion.objects.select_related("model").only("version", "status", "model__name").get(pk=pk)
        )
        return self[pk]


def _labels(version: ModelVersion) -> list[str]:
    return [version.model.name, version.version]


def _model_versions(versions: dict) -> Iterator:
    family = GaugeMetricFamily(
        "rationale_model_versions",
        "Model versions by status (suspended: crashed its workers)",
        labels=["model", "status"],
    )
    counts: dict[tuple[str, str], int] = {}
    for version in versions.values():
        key = (version.model.name, version.status)
        counts[key] = counts.get(key, 0) + 1
    for (model, status), n in sorted(counts.items()):
        family.add_metric([model, status], n)
    yield family


def _decisions(versions: dict) -> Iterator:
    family = CounterMetricFamily(
        "rationale_decisions",
        "Decisions recorded, by model version and outcome",
        labels=["model", "version", "outcome"],
    )
    rows = Decision.objects.order_by().values("model_version_id", "outcome").annotate(n=Count("pk"))
    for row in rows:
        family.add_metric([*_labels(versions[row["model_version_id"]]), row["outcome"]], row["n"])
    yield family


def _explanation_backlog(versions: dict, now) -> Iterator:
    backlog = GaugeMetricFamily(
        "rationale_explanations_backlog",
        "Explanations waiting for or held by a worker",
        labels=["model", "version", "queue", "status"],
    )
    oldest = GaugeMetricFamily(
        "rationale_explanation_oldest_pending_seconds",
        "Age of the oldest pending explanation",
        labels=["model", "version", "queue"],
    )
    rows = (
        Explanation.objects.filter(status__in=[Explanation.Status.PENDING, Explanation.Status.RUNNING])
        .order_by()
        .values("model_version_id", "status")
        .annotate(n=Count("pk"), first=Min("queued_at"))
    )
    for row in rows:
        version = versions[row["model_version_id"]]
        labels = [*_labels(version), queue_for(version)]
        backlog.add_metric([*labels, row["status"]], row["n"])
        if row["status"] == Explanation.Status.PENDING:
            oldest.add_metric(labels, (now - row["first"]).total_seconds())
    yield backlog
    yield oldest


def _explanations_last_hour(versions: dict, now) -> Iterator:
    finished = GaugeMetricFamily(
        "rationale_explanations_finished_last_hour",
        "Explanations queued in the last hour that finished, by result",
        labels=["model", "version", "queue", "status"],
    )
    latency = HistogramMetricFamily(
        "rationale_explanation_latency_last_hour_seconds",
        "Queued to done, for the explanations queued in the last hour (a window, not a counter)",
        labels=["model", "version", "queue"],
    )
    took = ExpressionWrapper(F("finished_at") - F("queued_at"), output_field=DurationField())
    buckets = {
        f"le_{i}": Count("pk", filter=Q(took__lte=timedelta(seconds=bound)))
        for i, bound in enumerate(LATENCY_BUCKETS)
    }
    rows = (
        Explanation.objects.filter(
            queued_at__gte=now - LATENCY_WINDOW,
            status__in=[Explanation.Status.DONE, Explanation.Status.FAILED],
        )
        .alias(took=took)
        .order_by()
        .values("model_version_id", "status")
        .annotate(n=Count("pk"), took_sum=Sum("took"), **buckets)
    )
    for row in rows:
        version = versions[row["model_version_id"]]
        labels = [*_labels(version), queue_for(version)]
        finished.add_metric([*labels, row["status"]], row["n"])
        if row["status"] != Explanation.Status.DONE:
            continue
        cumulative = [(str(bound), row[f"le_{i}"]) for i, bound in enumerate(LATENCY_BUCKETS)]
        latency.add_metric(
            labels,
            [*cumulative, ("+Inf", row["n"])],
            sum_value=(row["took_sum"] or timedelta()).total_seconds(),
        )
    yield finished
    yield latency


def _review_requests(now) -> Iterator:
    by_status = GaugeMetricFamily(
        "rationale_review_requests",
        "Data subjects' review requests by kind and status",
        labels=["kind", "status"],
    )
    overdue = GaugeMetricFamily(
        "rationale_review_requests_overdue", "Open review requests past their due date", labels=["kind"]
    )
    late = Q(status__in=ReviewRequest.OPEN_STATUSES, due_at__lt=now)
    rows = (
        ReviewRequest.objects.order_by()
        .values("kind", "status")
        .annotate(n=Count("pk"), late=Count("pk", filter=late))
    )
    late_by_kind: dict[str, int] = dict.fromkeys(ReviewRequest.Kind.values, 0)
    for row in rows:
        by_status.add_metric([row["kind"], row["status"]], row["n"])
        late_by_kind[row["kind"]] += row["late"]
    for kind, n in late_by_kind.items():
        overdue.add_metric([kind], n)
    yield by_status
    yield overdue


def _exports() -> Iterator:
    by_status = GaugeMetricFamily(
        "rationale_exports", "Compliance exports by kind and status", labels=["kind", "status"]
    )
    rows = Export.objects.order_by().values("kind", "status").annotate(n=Count("pk"))
    for row in rows:
        by_status.add_metric([row["kind"], row["status"]], row["n"])
    yield by_status


def _checkpoint() -> Iterator:
    family = GaugeMetricFamily(
        "rationale_audit_last_checkpoint_timestamp_seconds", "When the last signed audit checkpoint was made"
    )
    last = Checkpoint.objects.aggregate(at=Max("created_at"))["at"]
    if last is not None:
        family.add_metric([], last.timestamp())
    yield family


def _webhook_deliveries() -> Iterator:
    figures = delivery_figures()
    by_status = GaugeMetricFamily(
        "rationale_webhook_deliveries",
        "Webhook deliveries by status (dead: given up after the last attempt, waiting for a replay)",
        labels=["status"],
    )
    for status, n in figures["by_status"].items():
        by_status.add_metric([status], n)
    yield by_status
    yield GaugeMetricFamily(
        "rationale_webhook_deliveries_due", "Webhook deliveries due to be sent now", value=figures["due"]
    )
    yield GaugeMetricFamily(
        "rationale_webhook_oldest_due_seconds",
        "How long the oldest due webhook delivery has waited",
        value=figures["oldest_due_seconds"],
    )


def _bearer_matches(request, token: str) -> bool:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    # Constant time: the comparison must not tell a guesser how much of the token was right.
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


@never_cache
@require_GET
def metrics(request):
    """The monitoring system's scrape (role: holder of METRICS_TOKEN, nobody else).

    Unset token: 404, the endpoint is off. A wrong or missing token: 401 with the Bearer
    challenge, so that Prometheus' targets page says "unauthorized" rather than a wrong path.
    """
    token = settings.METRICS_TOKEN
    if not token:
        raise Http404("metrics are off (METRICS_TOKEN is unset)")
    if not _bearer_matches(request, token):
        refused = HttpResponse("a bearer token is required\n", status=401, content_type="text/plain")
        refused["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return refused
    # django-prometheus' exporter: this process's own figures (CPU, memory, garbage collector),
    # and every process's under gunicorn when PROMETHEUS_MULTIPROC_DIR is set.
    process = ExportToDjangoView(request)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(RationaleCollector())
    response = HttpResponse(process.content + generate_latest(registry), content_type=process["Content-Type"])
    return response
