"""Prompt search: how a query becomes a filter, and how a prompt is made findable.

On PostgreSQL a word is found by full-text search (english stemming), a partial word by a
pg_trgm index (ILIKE), and Chinese (or any CJK) text by a GIN index over the prompt's single
characters and character pairs (`Image.search_tokens`), so one or two characters a person
types find the image: a CJK run has no spaces for a word index to split on. On SQLite every
term is a plain case-insensitive substring match.
"""

from __future__ import annotations

import re

from django.db import connection
from django.db.models import BooleanField, F, Func, Q, Value
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

MAX_QUERY_CHARS = 200
MAX_TERMS = 8
# Han, Hiragana, Katakana, Hangul and the CJK punctuation-free ranges people type.
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
_CJK_RUN = re.compile(f"[{_CJK}]+")
_HAS_CJK = re.compile(f"[{_CJK}]")
# Partial words shorter than a trigram would scan the whole trigram index.
MIN_PARTIAL_CHARS = 3


def prompt_tokens(prompt: str) -> str:
    """Every CJK character and adjacent pair of the prompt, space-separated and unique."""
    seen: dict[str, None] = {}
    for run in _CJK_RUN.findall(prompt or ""):
        for i, char in enumerate(run):
            seen[char] = None
            if i + 1 < len(run):
                seen[run[i : i + 2]] = None
    return " ".join(seen)


def query_terms(q: str) -> list[str]:
    """The distinct terms of a query, in order: whitespace splits them."""
    terms: list[str] = []
    for term in q.split():
        if term.lower() not in (t.lower() for t in terms):
            terms.append(term)
    return terms[:MAX_TERMS]


def _cjk_grams(term: str) -> list[str]:
    grams: list[str] = []
    for run in _CJK_RUN.findall(term):
        if len(run) == 1:
            grams.append(run)
        else:
            grams.extend(run[i : i + 2] for i in range(len(run) - 1))
    return list(dict.fromkeys(grams))


class _FullTextMatch(Func):
    """`to_tsvector(config, column) @@ <tsquery>(config, value)`, written exactly as the GIN
    index expression so the planner can use it."""

    output_field = BooleanField()

    def __init__(self, column: str, query: str, *, config: str, parser: str) -> None:
        self.config, self.parser = config, parser
        super().__init__(F(column), Value(query))

    def as_sql(self, compiler, connection, **extra):
        column, column_params = compiler.compile(self.source_expressions[0])
        value, value_params = compiler.compile(self.source_expressions[1])
        sql = (
            f"to_tsvector('{self.config}'::regconfig, {column}) @@ "
            f"{self.parser}('{self.config}'::regconfig, {value})"
        )
        return sql, [*column_params, *value_params]


class _ILike(Func):
    """`column ILIKE '%value%'`, which a pg_trgm GIN index on the column serves."""

    output_field = BooleanField()

    def __init__(self, column: str, fragment: str) -> None:
        escaped = fragment.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        super().__init__(F(column), Value(f"%{escaped}%"))

    def as_sql(self, compiler, connection, **extra):
        column, column_params = compiler.compile(self.source_expressions[0])
        value, value_params = compiler.compile(self.source_expressions[1])
        return f"{column} ILIKE {value}", [*column_params, *value_params]


def _term_filter_postgres(term: str) -> Q:
    if _HAS_CJK.search(term):
        tokens = " ".join(_cjk_grams(term))
        match = Q(
            _FullTextMatch("search_tokens", tokens, config="simple", parser="plainto_tsquery")
        )
        # Pairs all present is necessary, not sufficient: the substring itself confirms.
        if len(term) > 2 or _CJK_RUN.fullmatch(term) is None:
            match &= Q(_ILike("prompt", term))
        return match
    words = Q(_FullTextMatch("prompt", term, config="english", parser="plainto_tsquery"))
    if len(term) >= MIN_PARTIAL_CHARS:
        return words | Q(_ILike("prompt", term))
    return words


def filter_for(q: str) -> Q:
    """A filter matching images whose prompt holds every term of `q`."""
    condition = Q()
    for term in query_terms(q):
        if connection.vendor == "postgresql":
            condition &= _term_filter_postgres(term)
        else:
            condition &= Q(prompt__icontains=term)
    return condition


def highlight(text: str, q: str) -> SafeString:
    """The text, escaped, with each occurrence of a query term wrapped in <mark>."""
    terms = sorted(query_terms(q or ""), key=len, reverse=True)
    if not terms:
        return escape(text)
    pattern = re.compile("|".join(re.escape(term) for term in terms), re.IGNORECASE)
    parts, last = [], 0
    for found in pattern.finditer(text):
        parts.append(escape(text[last : found.start()]))
        parts.append(f"<mark>{escape(found.group(0))}</mark>")
        last = found.end()
    parts.append(escape(text[last:]))
    return mark_safe("".join(parts))  # noqa: S308 - every part above is escaped
