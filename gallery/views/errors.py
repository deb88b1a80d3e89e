"""Error pages that never read the request body, so a body Django cannot decode still gets
its 400 instead of a second error."""

from django.http import HttpResponseBadRequest, HttpResponseServerError
from django.template import loader


def bad_request(request, exception=None):
    return HttpResponseBadRequest(loader.get_template("400.html").render({}))


def server_error(request):
    return HttpResponseServerError(loader.get_template("500.html").render({}))
