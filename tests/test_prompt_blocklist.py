"""The prompt blocklist: how words and regexes match, the save-time refusal of bad or slow
regexes, and the refusal of a blocked prompt by the form, the JSON API and the gateway alike,
logged for staff and never reaching the provider."""

import json

import pytest

from gallery.models import BlockedPrompt, Generation, PromptRule
from gallery.seedream.contract import GenerationParams
from gallery.services import blocklist
from gallery.services import generation as generation_service

pytestmark = pytest.mark.django_db


def rule(pattern, kind="word", **fields) -> PromptRule:
    return PromptRule.objects.create(pattern=pattern, kind=kind, **fields)


@pytest.mark.parametrize(
    ("pattern", "prompt", "blocked"),
    [
        ("gore", "a scene full of GORE at night", True),
        ("gore", "Gore.", True),
        ("gore", "Al Gore's speech", True),
        ("gore", "a gorey mess", False),  # not a whole word
        ("gore", "margorete", False),
        ("gore", "悲惨的gore场景", True),  # a Latin word touching CJK still stands alone
        ("blood bath", "a Blood   Bath in oils", True),
        ("blood bath", "a bloodbath", False),
        ("血腥", "一个血腥的场景", True),  # Chinese as a substring
        ("血腥", "一个血的场景", False),
        ("Ünïcode", "ünïcode art", True),
        ("é", "café", False),
    ],
)
def test_words_match_latin_on_boundaries_any_case_and_chinese_as_substrings(
    pattern, prompt, blocked
):
    rule(pattern)
    assert (blocklist.first_match(prompt) is not None) is blocked


def test_regex_rules_search_case_insensitively_and_inactive_rules_do_not_count():
    rule(r"\bk[i1]ll(ing)?\b", kind="regex")
    rule("boat", is_active=False)
    match = blocklist.first_match("a scene of KILLING")
    assert match is not None and match.text == "KILLING"
    assert blocklist.first_match("a paper boat") is None


def params(prompt: str) -> GenerationParams:
    return GenerationParams(prompt=prompt, model="doubao-seedream-3-0-t2i-250415")


def test_the_service_refuses_before_saving_anything_and_logs_who_when_which_rule(
    alice, django_capture_on_commit_callbacks
):
    gore = rule("gore", note="house rule")
    with django_capture_on_commit_callbacks() as callbacks:
        with pytest.raises(generation_service.PromptBlocked) as raised:
            generation_service.submit(user=alice, params=params("so much gore"), source="api")
    assert "gore" in raised.value.message
    assert Generation.objects.count() == 0 and callbacks == []
    logged = BlockedPrompt.objects.get()
    assert (logged.user, logged.prompt, logged.rule, logged.rule_pattern, logged.source) == (
        alice, "so much gore", gore, "gore", "api",
    )  # fmt: skip


def test_a_retry_of_a_job_whose_prompt_is_now_blocked_is_refused(alice):
    job = Generation.objects.create(
        user=alice, prompt="a gore scene", model="m", width=1024, height=1024, seed=1,
        guidance_scale=2.5, status="failed", error_code="provider_error",
    )  # fmt: skip
    rule("gore")
    with pytest.raises(generation_service.PromptBlocked):
        generation_service.retry(user=alice, generation_id=job.pk)
    job.refresh_from_db()
    assert job.status == "failed"


def test_the_form_shows_the_refusal_on_the_prompt_field(alice_client):
    rule("血腥")
    response = alice_client.post(
        "/generate/",
        {"prompt": "一个血腥的场景", "size": "1024x1024", "seed": "", "guidance_scale": "2.5",
         "model": "doubao-seedream-3-0-t2i-250415", "variations": "1"},
    )  # fmt: skip
    assert response.status_code == 400
    assert any("blocklist" in e for e in response.context["form"].errors["prompt"])
    assert Generation.objects.count() == 0
    assert BlockedPrompt.objects.get().source == "form"


def test_the_json_api_answers_400_prompt_blocked_in_its_error_shape(client, alice, redis_url):
    from gallery.services import api_tokens

    _, token = api_tokens.create(user=alice, name="script")
    rule("gore")
    response = client.post(
        "/api/jobs", json.dumps({"prompt": "gore"}), content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )  # fmt: skip
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert (error["code"], error["field"]) == ("prompt_blocked", "prompt")
    assert "blocklist" in error["message"]
    assert Generation.objects.count() == 0
    assert BlockedPrompt.objects.get().source == "api"


# --- Saving rules in the admin --------------------------------------------------


def save_rule(client, **data):
    form = {"kind": "regex", "pattern": "", "note": "", "is_active": "on", **data}
    return client.post("/admin/gallery/promptrule/add/", form)


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("(a+)+$", "takes too long"),
        (r"(\w+\s?)+$", "takes too long"),
        ("(x|x)*y", "takes too long"),
        ("([a-z]", "not a valid regular expression"),
        ("a{2,1}", "not a valid regular expression"),
        ("x*", "matches an empty prompt"),
        ("", "This field is required"),
    ],
)
def test_a_bad_or_slow_regex_is_refused_when_saved(client, sam, pattern, message):
    client.force_login(sam)
    response = save_rule(client, pattern=pattern)
    assert response.status_code == 200
    assert message in " ".join(response.context["adminform"].form.errors["pattern"])
    assert not PromptRule.objects.exists()


def test_a_sound_regex_and_a_word_are_saved_with_who_made_them(client, sam):
    client.force_login(sam)
    assert save_rule(client, pattern=r"\bnsfw\b").status_code == 302
    assert save_rule(client, kind="word", pattern="血腥").status_code == 302
    assert save_rule(client, kind="word", pattern="   ").status_code == 200
    assert save_rule(client, kind="nonsense", pattern="x").status_code == 200
    assert list(PromptRule.objects.values_list("pattern", "created_by")) == [
        (r"\bnsfw\b", sam.pk), ("血腥", sam.pk),
    ]  # fmt: skip


def test_blocked_prompts_are_listed_for_staff(client, sam, alice):
    rule("gore")
    with pytest.raises(generation_service.PromptBlocked):
        generation_service.submit(user=alice, params=params("gore"), source="form")
    client.force_login(sam)
    html = client.get("/admin/gallery/blockedprompt/").content.decode()
    assert "alice" in html and "gore" in html
