"""The signed-in home page (the subject's pages are in portal_views)."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render


@login_required
def home(request):
    return render(request, "decisions/home.html")
