"""Pages of the decisions app: the subject's access page and the signed-in home."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from . import portal_views

# The subject's page lives with the rest of the portal; config/urls.py routes here.
subject_decision = portal_views.subject_decision


@login_required
def home(request):
    return render(request, "decisions/home.html")
