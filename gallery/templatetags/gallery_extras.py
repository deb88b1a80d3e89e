"""Template helpers for the gallery pages: tile shapes, search highlights, model names."""

from django import template

from gallery import search
from gallery.seedream import contract

register = template.Library()

# static/gallery/ratios.css has one class per hundredth of aspect ratio in this range.
RATIO_MIN, RATIO_MAX = 30, 340


@register.filter
def ratio_class(image) -> str:
    """The CSS class that gives a tile its flex share: 'r133' for a 4:3 image."""
    ratio = round(100 * image.width / max(image.height, 1))
    return f"r{min(max(ratio, RATIO_MIN), RATIO_MAX)}"


@register.simple_tag
def highlight(text: str, q: str):
    return search.highlight(text, q)


@register.filter
def model_label(model: str) -> str:
    return contract.model_label(model)


@register.simple_tag
def addable_collections(user) -> list:
    """The collections the selection bar offers: those the member may add to (one query, on
    the pages that show the bar)."""
    from gallery import queries

    return list(queries.collections_addable_by(user).order_by("name").only("pk", "name")[:200])
