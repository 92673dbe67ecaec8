"""Pages of the Article 22 workflow: the subject's portal and the caseworker's workspace."""

app_name = "decisions"
urlpatterns: list = []
