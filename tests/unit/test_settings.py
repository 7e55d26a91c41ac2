"""A number setting that is not a whole number stops the portal with a sentence naming it,
not a ValueError traceback."""

import pytest

from portal.config import ConfigurationError, from_environment


@pytest.mark.parametrize(("name", "unit"), [
    ("PORTAL_TOKEN_TTL_SECONDS", "seconds"),
    ("PORTAL_DATABASE_CONNECT_TIMEOUT", "seconds"),
    ("PORTAL_DATABASE_RETRY_AFTER", "seconds"),
    ("PORTAL_MAX_CONTENT_LENGTH", "bytes"),
])
def test_a_number_setting_that_is_not_a_number_is_named(monkeypatch, tmp_path, name, unit):
    monkeypatch.setenv(name, "lots")
    with pytest.raises(ConfigurationError) as refused:
        from_environment(str(tmp_path))
    assert str(refused.value) == f"{name} must be a whole number of {unit}, not 'lots'"


def test_the_number_settings_are_read_as_numbers(monkeypatch, tmp_path):
    monkeypatch.setenv("PORTAL_DATABASE_RETRY_AFTER", "7")
    monkeypatch.setenv("PORTAL_MAX_CONTENT_LENGTH", "2048")
    config = from_environment(str(tmp_path))
    assert config["DATABASE_RETRY_AFTER_SECONDS"] == 7
    assert config["MAX_CONTENT_LENGTH"] == 2048
