"""Configuration: typed values, one-line errors, .env files, redaction, logging."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from greenhouse.config import ConfigError, Secret, load_settings, settings_from_mapping
from greenhouse.logs import configure_logging

ROOT = Path(__file__).resolve().parent.parent


def test_defaults_work_with_an_empty_environment():
    s = settings_from_mapping({})
    assert s.rate_limits.github == 80 and s.rate_limits.spotify == 100
    assert s.rate_limits.weather == 10
    assert s.web.http_port == 8000 and s.web.ws_port == 8765
    assert s.runtime.db_path == "greenhouse.db"
    assert s.get_enabled_services() == []
    assert s.demo_mode
    assert s.validate_configurations() == {}


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("GITHUB_RATE_LIMIT", "abc", "GITHUB_RATE_LIMIT: expected an integer, got 'abc'"),
        ("ENABLE_MOCK_DATA", "maybe", "ENABLE_MOCK_DATA: expected true or false, got 'maybe'"),
        ("GREENHOUSE_HTTP_PORT", "-1", "GREENHOUSE_HTTP_PORT: must be at least 0, got -1"),
        ("LOG_FORMAT", "xml", "LOG_FORMAT: expected one of text, json, got 'xml'"),
        ("GITHUB_API_URL", "ftp://x", "GITHUB_API_URL: expected an http(s) URL, got 'ftp://x'"),
        ("WEATHER_LAT", "north", "WEATHER_LAT: expected a number, got 'north'"),
    ],
)
def test_malformed_values_give_one_line_naming_the_variable(name, value, expected):
    with pytest.raises(ConfigError) as info:
        settings_from_mapping({name: value})
    assert str(info.value) == expected
    assert "\n" not in str(info.value)


@given(st.text(max_size=20))
def test_any_rate_limit_string_parses_or_fails_with_config_error(value):
    try:
        settings = settings_from_mapping({"GITHUB_RATE_LIMIT": value})
    except ConfigError as error:
        assert str(error).startswith("GITHUB_RATE_LIMIT: ")
    else:
        assert settings.rate_limits.github >= 1


def test_dotenv_file_is_read_and_the_environment_wins(tmp_path):
    env = tmp_path / ".env"
    env.write_text(
        '# comment\nGITHUB_TOKEN="ghp_from_file"\nGITHUB_USERNAME=octo\n'
        "export WEATHER_CITY='Lisbon'\nOPENWEATHER_API_KEY=k\n"
    )
    s = load_settings(env, environ={"GITHUB_USERNAME": "from-env"})
    assert s.github.token.get() == "ghp_from_file"
    assert s.github.username == "from-env"
    assert s.weather.city == "Lisbon"
    assert s.get_enabled_services() == ["github", "weather"]
    assert not s.demo_mode


def test_secrets_never_show_in_repr():
    s = settings_from_mapping({"GITHUB_TOKEN": "ghp_supersecret", "GITHUB_USERNAME": "o"})
    assert "ghp_supersecret" not in repr(s)
    assert "ghp_supersecret" not in str(s.github)
    assert repr(Secret("x")) == "Secret('***')"


def test_validation_reports_half_configured_services():
    s = settings_from_mapping({"GITHUB_TOKEN": "t", "SPOTIFY_CLIENT_ID": "id", "WEATHER_LAT": "1"})
    problems = s.validate_configurations()
    assert "GITHUB_USERNAME" in problems["github"][0]
    assert "SPOTIFY_REFRESH_TOKEN" in problems["spotify"][0]
    assert any("WEATHER_LON" in p for p in problems["weather"])


def test_feature_flags_switch_services_off():
    s = settings_from_mapping(
        {"GITHUB_TOKEN": "t", "GITHUB_USERNAME": "u", "ENABLE_GITHUB_INTEGRATION": "false"}
    )
    assert not s.is_configured("github")


def test_logs_redact_secrets_and_support_json_lines():
    s = settings_from_mapping({"GITHUB_TOKEN": "ghp_leakme123", "LOG_FORMAT": "json",
                               "LOG_LEVEL_GITHUB": "debug"})
    stream = io.StringIO()
    handler = configure_logging(s, stream=stream)
    log = logging.getLogger("greenhouse.github")
    log.debug("calling with token %s", "ghp_leakme123")
    try:
        raise RuntimeError("bad header Authorization: token ghp_leakme123")
    except RuntimeError:
        log.exception("request failed")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert lines[0]["message"] == "calling with token ***"
    assert lines[0]["logger"] == "greenhouse.github" and lines[0]["level"] == "debug"
    assert "ghp_leakme123" not in stream.getvalue()
    assert "Traceback" in lines[1]["exception"]
    logging.getLogger("greenhouse").removeHandler(handler)
    logging.getLogger("greenhouse").propagate = True
    logging.getLogger("greenhouse.github").setLevel(logging.NOTSET)


def run_py(*args: str, env: dict[str, str] | None = None, cwd: Path = ROOT):
    return subprocess.run(
        [sys.executable, str(ROOT / "run.py"), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", **(env or {})},
        cwd=cwd,
    )


def test_run_py_malformed_env_value_is_one_clear_line(tmp_path):
    result = run_py("--env-file", str(tmp_path / "none"), env={"GITHUB_RATE_LIMIT": "abc"})
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "configuration error: GITHUB_RATE_LIMIT: expected an integer, got 'abc'"
    )
    assert "Traceback" not in result.stderr


def test_run_py_check_config_and_status(tmp_path):
    result = run_py("--env-file", str(tmp_path / "none"), "check-config")
    assert result.returncode == 0
    assert "demo garden" in result.stdout
    result = run_py("--env-file", str(tmp_path / "none"), "--db", str(tmp_path / "g.db"), "status")
    assert result.returncode == 0
    assert "not created yet" in result.stdout
