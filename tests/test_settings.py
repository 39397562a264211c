from __future__ import annotations

import pytest

from authward.settings import (
    Settings,
    SettingsError,
    load_settings,
    unknown_variables,
    variable_names,
)


def test_defaults_match_the_contract(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings()
    assert settings.database_url == "sqlite:///./authward.db"
    assert settings.jwt_alg == "EdDSA"
    assert (settings.access_ttl, settings.refresh_ttl) == (300, 1_209_600)
    assert (settings.session_idle_ttl, settings.session_absolute_ttl) == (1800, 43_200)
    assert settings.max_sessions_per_user == 10
    assert settings.insecure_cookies is False
    assert (settings.login_max_failures, settings.login_window, settings.leeway) == (5, 900, 1)


def test_environment_is_read_with_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTHWARD_ACCESS_TTL", "60")
    monkeypatch.setenv("AUTHWARD_TRUSTED_PROXIES", "10.0.0.0/8, 127.0.0.1")
    settings = load_settings()
    assert settings.access_ttl == 60
    assert [str(n) for n in settings.trusted_proxies] == ["10.0.0.0/8", "127.0.0.1/32"]


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("AUTHWARD_LEEWAY", "31"),
        ("AUTHWARD_ACCESS_TTL", "soon"),
        ("AUTHWARD_JWT_ALG", "none"),
        ("AUTHWARD_SECRET_KEY", "short"),
        ("AUTHWARD_SECRET_KEY", "a" * 40),
        ("AUTHWARD_TRUSTED_PROXIES", "not-an-address"),
    ],
)
def test_bad_value_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as raised:
        load_settings()
    message = str(raised.value)
    assert variable in message
    assert "\n" not in message


def test_bad_combination_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTHWARD_SESSION_IDLE_TTL", "7200")
    monkeypatch.setenv("AUTHWARD_SESSION_ABSOLUTE_TTL", "3600")
    with pytest.raises(SettingsError, match="AUTHWARD_SESSION_IDLE_TTL"):
        load_settings()


def test_hs256_needs_a_shared_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTHWARD_JWT_ALG", "HS256")
    with pytest.raises(SettingsError, match="AUTHWARD_SECRET_KEY"):
        load_settings()


def test_secret_is_hidden_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "k3y-" + "Zq8#pL2v" * 5
    monkeypatch.setenv("AUTHWARD_SECRET_KEY", secret)
    assert secret not in repr(load_settings())


def test_mail_needs_the_public_url_and_the_public_url_is_a_plain_base() -> None:
    with pytest.raises(SettingsError, match="AUTHWARD_SMTP_URL needs AUTHWARD_PUBLIC_URL"):
        load_settings(smtp_url="smtp://mail.example.com")
    chosen = load_settings(smtp_url="smtp://mail.example.com", public_url="https://a.example/")
    assert chosen.public_url == "https://a.example"
    for bad in ("a.example", "ftp://a.example", "https://a.example/?x=1", "https://u:p@a.example"):
        with pytest.raises(SettingsError, match="AUTHWARD_PUBLIC_URL"):
            load_settings(public_url=bad)
    with pytest.raises(SettingsError, match="AUTHWARD_RESET_TTL"):
        load_settings(reset_ttl=3601)


def test_misspelt_variable_is_refused_with_the_nearest_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AUTHWARD_ACESS_TTL", "60")
    with pytest.raises(SettingsError) as raised:
        load_settings()
    assert str(raised.value) == (
        "AUTHWARD_ACESS_TTL: no such setting (did you mean AUTHWARD_ACCESS_TTL?)"
    )


def test_unknown_variable_without_a_near_name_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTHWARD_COLOUR", "blue")
    with pytest.raises(SettingsError, match=r"^AUTHWARD_COLOUR: no such setting$"):
        load_settings()


def test_library_use_refuses_an_unknown_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings(...) in an app, not only the CLI's load_settings, refuses the misspelling."""
    monkeypatch.setenv("AUTHWARD_REDIS_ULR", "redis://127.0.0.1:6379/0")
    with pytest.raises(ValueError, match="did you mean AUTHWARD_REDIS_URL"):
        Settings(database_url="sqlite:///:memory:")


def test_every_field_is_a_known_variable_and_test_names_are_not_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    environ = {name: "" for name in variable_names()}
    environ |= {"AUTHWARD_TEST_POSTGRES": "x", "AUTHWARD_SCREENSHOTS_DIR": "x", "PATH": "x"}
    assert unknown_variables(environ) == []
    assert variable_names() == ["AUTHWARD_" + name.upper() for name in Settings.model_fields]
