"""Error pages that never read the request body, so a body Django cannot decode still gets
its 400 instead of a second error."""

from django.conf import settings
from django.core.exceptions import TooManyFieldsSent
from django.http import HttpResponseBadRequest, HttpResponseServerError
from django.template import loader
from django.utils.translation import gettext as _


def bad_request(request, exception=None):
    context = {}
    if isinstance(exception, TooManyFieldsSent):  # e.g. a bulk action with thousands of ids
        context["message"] = _(
            "The request has more than %(max)d fields. A bulk action takes at most %(ids)d "
            "images; send their ids as one comma-separated `ids` field."
        ) % {"max": settings.DATA_UPLOAD_MAX_NUMBER_FIELDS, "ids": settings.GALLERY_BULK_MAX_IDS}
    return HttpResponseBadRequest(loader.get_template("400.html").render(context))


def server_error(request):
    return HttpResponseServerError(loader.get_template("500.html").render({}))
