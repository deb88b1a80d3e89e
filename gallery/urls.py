from django.urls import path

from gallery.views import account, api_tokens, browse, generate, jobs, report, share

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
    path("profile/explore/", share.explore_choice, name="explore_choice"),
    # Share links: the member's side.
    path("share/new/", share.share_new, name="share_new"),
    path("links/", share.my_links, name="share_links"),
    path("links/<int:pk>/edit/", share.link_edit, name="share_link_edit"),
    path("links/<int:pk>/revoke/", share.link_revoke, name="share_link_revoke"),
    path("links/<int:pk>/undo/", share.link_undo, name="share_link_undo"),
    # The public side: every path resolves its token through sharing.resolve.
    path("s/<str:token>/", share.share_page, name="share_page"),
    path("s/<str:token>/preview.jpg", share.share_preview, name="share_preview"),
    path("s/<str:token>/i/<str:ref>/", share.share_lightbox, name="share_lightbox"),
    path("s/<str:token>/download/<str:ref>/", share.share_download, name="share_download"),
    path("s/<str:token>/report/", share.share_report, name="share_report"),
    path("explore/", share.explore, name="explore"),
    path("explore/i/<str:ref>/", share.explore_lightbox, name="explore_lightbox"),
    path("explore/report/", share.explore_report, name="explore_report"),
]
