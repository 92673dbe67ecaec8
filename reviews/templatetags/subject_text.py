"""How the person's pages write a share: rounded to a whole percent in the active language's
format ("97%", "97 %"), and never "0%" or "100%" for a share that is neither; and the controller's
texts in the active language."""

from __future__ import annotations

from django import template
from django.utils.formats import number_format
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from decisions.translations import version_texts

register = template.Library()

SMALLEST = 0.005  # below this a share rounds to 0%: written "less than 1%"


def _whole_percent(number: int) -> str:
    return _("%(number)s%%") % {"number": number_format(number)}


@register.filter
def percent(share) -> str:
    """A share from 0 to 1 as a whole percentage."""
    if share is None or share == "":
        return ""
    share = float(share)
    if 0 < share < SMALLEST:
        return _("less than %(percent)s") % {"percent": _whole_percent(1)}
    if 1 - SMALLEST <= share < 1:
        return _("more than %(percent)s") % {"percent": _whole_percent(99)}
    return _whole_percent(round(share * 100))


@register.filter
def all_below_one_percent(rows) -> bool:
    """True when every row's `probability` would be written "less than 1%"."""
    return bool(rows) and all(float(row["probability"]) < SMALLEST for row in rows)


@register.filter
def version_text(version, name: str) -> str:
    """`{{ version|version_text:"purpose" }}`: a model version's text for the person, in the
    active language where the controller gave one, else the default."""
    return version_texts(version, get_language())[name] if version else ""
