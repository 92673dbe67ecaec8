"""Pages of the auditor's workspace."""

app_name = "audit"
urlpatterns: list = []
