"""`<text:...>`: a path segment for names, versions and references, without control characters.

Django's `<str:...>` takes any character but `/`, NUL included. A NUL reached PostgreSQL in a
lookup and failed there (a 500); this converter refuses it, and the other C0/C1 control
characters no name or reference contains, in the URL itself, so the request is a 404 like any
other path that names nothing.
"""

from django.urls import register_converter
from django.urls.converters import StringConverter


class TextConverter(StringConverter):
    regex = "[^/\x00-\x1f\x7f-\x9f]+"


# At import: a URL module that uses `<text:...>` imports this module first.
register_converter(TextConverter, "text")
