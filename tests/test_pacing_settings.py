"""The pacing settings: defaults, and clear refusals of values that cannot work."""

import json
import os
import subprocess
import sys

import pytest

from tests.test_settings import ROOT

PACING_PROBE = (
    "import json, django; from django.conf import settings; django.setup(); "
    "print(json.dumps({k: getattr(settings, k) for k in ('SEEDREAM_IPM_LIMIT', "
    "'SEEDREAM_IPM_BURST', 'SEEDREAM_RATE_LIMIT_WAIT', 'GENERATION_RATE_LIMIT_BUDGET', "
    "'SEEDREAM_EMULATOR_IPM')}))"
)
CLEARED = {
    "SEEDREAM_IPM_LIMIT": "",
    "SEEDREAM_IPM_BURST": "",
    "SEEDREAM_RATE_LIMIT_WAIT": "",
    "GENERATION_RATE_LIMIT_BUDGET": "",
    "SEEDREAM_EMULATOR_IPM": "",
}


def probe(**env) -> subprocess.CompletedProcess:
    """Import the settings in a fresh interpreter with `env` over the cleared pacing settings."""
    return subprocess.run(
        [sys.executable, "-c", PACING_PROBE],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "SECRET_KEY": "x" * 50,
             **CLEARED, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )  # fmt: skip


def test_nothing_is_paced_or_limited_by_default():
    result = probe()
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "SEEDREAM_IPM_LIMIT": 0,
        "SEEDREAM_IPM_BURST": 1,
        "SEEDREAM_RATE_LIMIT_WAIT": 60.0,
        "GENERATION_RATE_LIMIT_BUDGET": 1800.0,
        "SEEDREAM_EMULATOR_IPM": 0,
    }


def test_the_burst_defaults_to_one_percent_of_the_limit():
    result = probe(SEEDREAM_IPM_LIMIT="500")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["SEEDREAM_IPM_BURST"] == 5


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SEEDREAM_IPM_LIMIT": "many"}, "SEEDREAM_IPM_LIMIT must be an integer"),
        ({"SEEDREAM_IPM_LIMIT": "-5"}, "SEEDREAM_IPM_LIMIT must be empty"),
        ({"SEEDREAM_IPM_LIMIT": "300", "SEEDREAM_IPM_BURST": "0"}, "SEEDREAM_IPM_BURST must be"),
        ({"SEEDREAM_IPM_LIMIT": "300", "SEEDREAM_IPM_BURST": "200"}, "SEEDREAM_IPM_BURST must be"),
        ({"SEEDREAM_IPM_BURST": "1.5"}, "SEEDREAM_IPM_BURST must be an integer"),
        ({"SEEDREAM_EMULATOR_IPM": "-1"}, "SEEDREAM_EMULATOR_IPM must be 0"),
        ({"SEEDREAM_RATE_LIMIT_WAIT": "0"}, "SEEDREAM_RATE_LIMIT_WAIT must be"),
        ({"SEEDREAM_RATE_LIMIT_WAIT": "soon"}, "SEEDREAM_RATE_LIMIT_WAIT must be a number"),
        ({"GENERATION_RATE_LIMIT_BUDGET": "-1"}, "GENERATION_RATE_LIMIT_BUDGET must be"),
    ],
)
def test_unworkable_pacing_settings_are_refused_with_a_clear_error(env, message):
    result = probe(**env)
    assert result.returncode != 0
    assert message in result.stderr
