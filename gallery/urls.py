from django.urls import path

from gallery.views import api_tokens, browse, generate

app_name = "gallery"

urlpatterns = [
    path("", browse.home, name="home"),
    path("images/<int:pk>/", browse.image_detail, name="image"),
    path("generate/", generate.generate, name="generate"),
    path("generate/<uuid:batch>/", generate.batch, name="batch"),
    path("generations/<int:pk>/card/", generate.card, name="generation_card"),
    path("generations/<int:pk>/cancel/", generate.cancel, name="generation_cancel"),
    path("generations/<int:pk>/retry/", generate.retry, name="generation_retry"),
    path("settings/tokens/", api_tokens.token_list, name="api_tokens"),
    path("settings/tokens/<int:pk>/revoke/", api_tokens.revoke, name="api_token_revoke"),
]
