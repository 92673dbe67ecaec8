from django import template

register = template.Library()


@register.filter
def pct(value, digits: int = 1) -> str:
    """0.1234 -> '12.3%'; None -> an en dash (no data)."""
    if value is None or value == "":
        return "–"
    return f"{100 * float(value):.{int(digits)}f}%"


@register.filter
def num(value, digits: int = 3) -> str:
    if value is None or value == "":
        return "–"
    return f"{float(value):.{int(digits)}g}"


@register.filter
def seconds(value) -> str:
    if value is None:
        return "–"
    value = float(value)
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.1f} s"
