"""Prompts lose control characters, escape sequences, characters XML forbids and bidi controls
(in the contract, so the form and the API agree), and one with nothing visible is refused."""

import pytest

from gallery import imaging
from gallery.forms import GenerationForm
from gallery.models import Generation, Image
from gallery.seedream import contract
from gallery.services import generation as service
from gallery.storage import media_storage

VALID = {
    "prompt": "A porcelain fox",
    "size": "1024x1024",
    "seed": "7",
    "guidance_scale": "2.5",
    "model": contract.DEFAULT_MODEL,
    "variations": "1",
}


@pytest.mark.parametrize(
    "prompt",
    [
        "\u202e\u200f",
        "\u200b\u200b",
        "\x1b[31m\x1b[0m",
        "\u3164\u3164",
        "\u2066 \u2069\t\n",
        "\x07\x08\x1b",
    ],
    ids=["bidi", "zero-width", "ansi", "hangul-filler", "isolates-and-space", "controls"],
)
def test_prompt_with_no_visible_character_is_refused(prompt):
    with pytest.raises(contract.ParameterError) as caught:
        contract.validate_prompt(prompt)
    assert caught.value.param == "prompt"
    assert caught.value.message == "prompt has no visible character."


@pytest.mark.parametrize(
    ("prompt", "cleaned"),
    [
        ("a fox\u202e facing left", "a fox facing left"),
        ("\u2067عربي\u2069 and English", "عربي and English"),
        ("a \x1b[1;31mred\x1b[0m fox", "a red fox"),
        ("one\r\ntwo\tthree", "one\ntwo\tthree"),
        ("bell\x07 esc\x1b del\x7f c1\x85", "bell esc del c1"),
        ("lone \ud800 surrogate \ufffe", "lone  surrogate"),
    ],
)
def test_control_and_bidi_characters_are_stripped(prompt, cleaned):
    assert contract.validate_prompt(prompt) == cleaned


@pytest.mark.parametrize(
    "prompt", ["灯塔 at dusk", "e\u0301clair", "👩\u200d🚀 astronaut", "نقطة\u200cبعد"]
)
def test_ordinary_scripts_joiners_and_accents_are_kept(prompt):
    assert contract.validate_prompt(prompt) == prompt


def test_the_json_contract_cleans_the_same_way():
    params = contract.params_from_body({"model": contract.DEFAULT_MODEL, "prompt": "a\u202ebc"})
    assert params.prompt == "abc"
    with pytest.raises(contract.ParameterError):
        contract.params_from_body({"model": contract.DEFAULT_MODEL, "prompt": "\u200b"})


def test_the_emulator_takes_what_the_provider_takes():
    params = contract.params_from_body(
        {"model": contract.DEFAULT_MODEL, "prompt": "\u200b"}, product=False
    )
    assert params.prompt == "\u200b"


@pytest.mark.django_db
def test_generate_form_refuses_an_invisible_prompt_and_queues_nothing(alice_client):
    response = alice_client.post("/generate/", {**VALID, "prompt": "\u202e\u200b\u200f"})
    assert response.status_code == 400
    assert "Prompt has no visible character." in response.content.decode()
    assert Generation.objects.count() == 0


@pytest.mark.django_db
def test_stored_file_from_a_dirty_prompt_has_parseable_labels(
    redis_url, s3_server, emulator, alice
):
    form = GenerationForm({**VALID, "prompt": "a \x1b[31mred\x1b[0m fox\u202e\x1b\x0b at dusk"})
    assert form.is_valid(), form.errors
    (generation,) = service.submit(user=alice, params=form.params())
    for _ in range(5):
        if service.run(generation.pk).retry_in is None:
            break
    generation.refresh_from_db()
    assert generation.status == Generation.Status.SUCCEEDED, generation.error_message
    image = Image.objects.get(generation=generation)
    with media_storage().open(image.original_key) as fh:
        meta = imaging.read_metadata(fh.read())
    assert meta["prompt"] == "a red fox at dusk"
    assert meta["digital_source_type"].endswith("/trainedAlgorithmicMedia")
    assert meta["aigc"]["Label"] == "1"
