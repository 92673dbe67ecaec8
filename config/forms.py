"""The staff sign-in form."""

from django.contrib.auth.forms import AuthenticationForm
from django.core.validators import MaxLengthValidator


class SignInForm(AuthenticationForm):
    """Django's form sets the username's max_length after the field is built, so only the
    widget learns it and any length reached authentication: django-axes then failed to store a
    username over its column's 255 characters (a 500). Here it is a form error."""

    def __init__(self, request=None, *args, **kwargs):
        super().__init__(request, *args, **kwargs)
        field = self.fields["username"]
        field.validators.append(MaxLengthValidator(field.max_length))
