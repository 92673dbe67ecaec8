"""Queueing the workspace's background work: a service asks for a task here, after commit, and
never imports the tasks module, which imports the services."""

from __future__ import annotations

from celery import current_app


def run_export(*, export_id) -> None:
    current_app.send_task("audit.run_export", kwargs={"export_id": str(export_id)})
