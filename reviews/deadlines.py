"""Deadlines of GDPR Art. 12(3): an answer is due one month after receipt; the controller may
extend that by at most two further months where necessary, telling the person why within the
first month."""

from __future__ import annotations

import calendar
from datetime import datetime, timedelta

from django.utils import timezone

from .models import ReviewRequest

MAX_EXTENSION_MONTHS = 2


def add_months(moment: datetime, months: int) -> datetime:
    """The same day `months` calendar months later, or the month's last day when it has fewer
    (31 January + 1 month = 28/29 February), as Art. 12(3)'s "one month" is read."""
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def due_date_for(received_at: datetime) -> datetime:
    return add_months(received_at, 1)


def can_extend(request: ReviewRequest, now: datetime | None = None) -> bool:
    now = now or timezone.now()
    return (
        request.is_open and request.extension_months < MAX_EXTENSION_MONTHS and now <= request.original_due_at
    )


def is_overdue(request: ReviewRequest, now: datetime | None = None) -> bool:
    return request.is_open and request.due_at < (now or timezone.now())


def days_left(request: ReviewRequest, now: datetime | None = None) -> int:
    return (request.due_at - (now or timezone.now())) // timedelta(days=1)
