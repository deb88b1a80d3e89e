from django.urls import path

from gallery.views import account, api_tokens, browse, generate, jobs, report

app_name = "gallery"

urlpatterns = [
    path("", browse.home, name="home"),
    path("images/<int:pk>/", browse.image_detail, name="image"),
    path("images/<int:pk>/lightbox/", browse.lightbox, name="image_lightbox"),
    path("images/<int:pk>/download/", browse.download, name="image_download"),
    path("images/<int:pk>/favourite/", browse.favourite, name="image_favourite"),
    path("images/<int:pk>/vary/", browse.vary, name="image_vary"),
    path("images/<int:pk>/delete/", browse.delete, name="image_delete"),
    path("images/<int:pk>/report/", report.report_image, name="image_report"),
    path("generate/", generate.generate, name="generate"),
    path("generate/<uuid:batch>/", generate.batch, name="batch"),
    path("generate/<uuid:batch>/cancel/", generate.cancel_rest, name="batch_cancel"),
    path("generations/<int:pk>/card/", generate.card, name="generation_card"),
    path("generations/<int:pk>/cancel/", generate.cancel, name="generation_cancel"),
    path("generations/<int:pk>/retry/", generate.retry, name="generation_retry"),
    path("jobs/", jobs.jobs, name="jobs"),
    path("jobs/running/", jobs.running_jobs, name="running_jobs"),
    path("profile/", account.profile, name="profile"),
    path("settings/tokens/", api_tokens.token_list, name="api_tokens"),
    path("settings/tokens/<int:pk>/revoke/", api_tokens.revoke, name="api_token_revoke"),
]
