"""The prompt blocklist: staff's words and regular expressions (PromptRule rows), checked by the
generation service before the provider is called, and the save-time check that refuses a
regular expression slow enough to stall a request."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass

from django.utils.translation import gettext as _

from gallery.models import BlockedPrompt, PromptRule

# Scripts written without spaces between words: a term in them matches as a substring.
_CJK = re.compile(
    r"[\u2e80-\u2fdf\u3040-\u30ff\u3100-\u312f\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]"
)
# A Latin word's boundary: not next to a letter or digit of a spaced script (CJK may touch it).
_WORD_CHAR = r"0-9A-Za-z\u00c0-\u024f\u0370-\u03ff\u0400-\u04ff_"
# How long a regular expression may take over the adversarial inputs when staff save it.
REGEX_CHECK_SECONDS = 2.0


@dataclass(frozen=True)
class Match:
    rule: PromptRule
    text: str  # the part of the prompt that matched


def word_regex(term: str) -> re.Pattern:
    """The regex a word rule stands for: CJK terms as substrings, Latin words and phrases
    case-insensitively on word boundaries, any run of spaces in a phrase matching any other."""
    term = " ".join(term.split())
    body = r"\s+".join(re.escape(part) for part in term.split(" "))
    if _CJK.search(term):
        return re.compile(body, re.IGNORECASE)
    return re.compile(rf"(?<![{_WORD_CHAR}]){body}(?![{_WORD_CHAR}])", re.IGNORECASE)


def rule_regex(rule: PromptRule) -> re.Pattern:
    if rule.kind == PromptRule.Kind.WORD:
        return word_regex(rule.pattern)
    return re.compile(rule.pattern, re.IGNORECASE)


def first_match(prompt: str) -> Match | None:
    """The first active rule the prompt breaks (one query), or None."""
    for rule in PromptRule.objects.filter(is_active=True).order_by("id"):
        try:
            found = rule_regex(rule).search(prompt)
        except re.error:  # saved before validation existed; never let it block everything
            continue
        if found:
            return Match(rule=rule, text=found.group(0))
    return None


class PromptBlocked(Exception):
    """The prompt breaks a blocklist rule: refused before the provider is called."""

    code = "prompt_blocked"

    def __init__(self, match: Match) -> None:
        self.match = match
        self.message = _(
            "This prompt cannot be generated: “%(text)s” is on this gallery's blocklist. "
            "Change the prompt and try again."
        ) % {"text": match.text[:80]}
        super().__init__(self.message)


def refuse_blocked(*, user, prompt: str, source: str) -> None:
    """Raise PromptBlocked (after logging a BlockedPrompt for staff) when a rule matches.
    Call it outside the caller's transaction so the log survives the refusal."""
    match = first_match(prompt)
    if match is None:
        return
    BlockedPrompt.objects.create(
        user=user, prompt=prompt, rule=match.rule, rule_pattern=match.rule.pattern, source=source
    )
    raise PromptBlocked(match)


# --- Save-time checks ---------------------------------------------------------

_PROBE = r"""
import json, re, sys
pattern, inputs = json.load(sys.stdin)
compiled = re.compile(pattern, re.IGNORECASE)
for text in inputs:
    compiled.search(text)
"""


def adversarial_inputs(pattern: str) -> list[str]:
    """Strings that make a backtracking regex blow up when it can: long runs of the pattern's
    own characters (and common ones) ending in a character that makes the match fail."""
    literals = {c for c in pattern if c.isprintable() and c not in "\\()[]{}|*+?^$."}
    alphabet = sorted(literals | {"a", "0", " ", "x", "中", "-", "_"})
    inputs = []
    for char in alphabet:
        inputs.append(char * 2000 + "\u0000!")
        inputs.append(char * 2000)
    joined = "".join(alphabet)
    inputs.append(joined * (2000 // max(1, len(joined))) + "\u0000")
    inputs.append("a b " * 500 + "!")
    return inputs


def regex_problem(pattern: str) -> str | None:
    """Why this regular expression cannot be a rule (it does not compile, it matches every
    prompt, or it takes too long on adversarial input), or None when it can. The timing runs in
    a child process, since Python cannot interrupt a running `re` search."""
    try:
        compiled = re.compile(pattern, re.IGNORECASE)
    except re.error as exc:
        return _("This is not a valid regular expression: %(error)s.") % {"error": exc}
    if compiled.search("") is not None:
        return _("This regular expression matches an empty prompt, so it would block every one.")
    try:
        done = subprocess.run(
            [sys.executable, "-I", "-c", _PROBE],
            input=json.dumps([pattern, adversarial_inputs(pattern)]),
            capture_output=True,
            text=True,
            timeout=REGEX_CHECK_SECONDS,
        )
    except subprocess.TimeoutExpired:
        return _(
            "This regular expression takes too long on some prompts (over %(seconds)s s): it "
            "would stall every generation. Simplify it, e.g. avoid nested repeats like (a+)+."
        ) % {"seconds": REGEX_CHECK_SECONDS}
    if done.returncode != 0:
        error = (done.stderr.strip().splitlines() or ["?"])[-1]
        return _("This regular expression could not be checked: %(error)s") % {"error": error}
    return None


def word_problem(term: str) -> str | None:
    if not term.strip():
        return _("A word rule needs at least one letter.")
    return None
