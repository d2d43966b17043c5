"""Settings errors name the key and the file, so an operator can fix them without a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from alphaengine.settings import SettingsError, load_settings


def _secrets(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "secrets.yaml"
    path.write_text(text)
    return path


def _load(tmp_path: Path, secrets: Path, **kwargs: object) -> object:
    return load_settings(data_dir=tmp_path / "data", secrets_file=secrets, **kwargs)  # type: ignore[arg-type]


def test_paper_mode_needs_no_file_and_keeps_one_database_per_mode(tmp_path: Path) -> None:
    paper = load_settings(data_dir=tmp_path, secrets_file=tmp_path / "absent.yaml", environ={})
    assert paper.mode == "paper" and paper.api_key is None
    assert paper.database_url.endswith("alphaengine-paper.db")


def test_testnet_without_keys_names_the_missing_key_and_file(tmp_path: Path) -> None:
    secrets = _secrets(tmp_path, "mode: testnet\n")
    with pytest.raises(SettingsError) as error:
        _load(tmp_path, secrets, environ={})
    assert str(secrets) in str(error.value)
    assert "binance.testnet.api_key" in str(error.value)


def test_keys_from_the_environment_satisfy_testnet(tmp_path: Path) -> None:
    secrets = _secrets(tmp_path, "mode: testnet\n")
    env = {"ALPHAENGINE_BINANCE_API_KEY": "k", "ALPHAENGINE_BINANCE_API_SECRET": "s"}
    settings = load_settings(data_dir=tmp_path, secrets_file=secrets, environ=env)
    assert (settings.mode, settings.api_key) == ("testnet", "k")
    assert settings.database_url.endswith("alphaengine-testnet.db")


def test_a_bad_mode_names_where_it_came_from(tmp_path: Path) -> None:
    secrets = _secrets(tmp_path, "mode: live\n")
    with pytest.raises(SettingsError, match=r"secrets.yaml.*mode"):
        _load(tmp_path, secrets, environ={})
    with pytest.raises(SettingsError, match="--mode: must be one of paper, testnet, production"):
        _load(tmp_path, tmp_path / "absent.yaml", mode="papr", environ={})
    with pytest.raises(SettingsError, match="ALPHAENGINE_MODE"):
        _load(tmp_path, tmp_path / "absent.yaml", environ={"ALPHAENGINE_MODE": "prod"})


def test_invalid_yaml_names_the_file(tmp_path: Path) -> None:
    secrets = _secrets(tmp_path, "mode: paper\nweb: [unclosed\n")
    with pytest.raises(SettingsError, match="not valid YAML") as error:
        _load(tmp_path, secrets, environ={})
    assert str(secrets) in str(error.value)


def test_a_short_jwt_secret_names_the_key(tmp_path: Path) -> None:
    secrets = _secrets(tmp_path, "web:\n  jwt_secret: short\n")
    with pytest.raises(SettingsError, match=r"secrets.yaml: web.jwt_secret: .*32"):
        _load(tmp_path, secrets, environ={})
    with pytest.raises(SettingsError, match=r"environment.*web.jwt_secret|jwt_secret"):
        _load(tmp_path, tmp_path / "absent.yaml", environ={"ALPHAENGINE_JWT_SECRET": "short"})


def test_unknown_keys_are_refused_not_ignored(tmp_path: Path) -> None:
    secrets = _secrets(tmp_path, "binance:\n  testnt:\n    api_key: x\n")
    with pytest.raises(SettingsError, match=r"binance\.testnt"):
        _load(tmp_path, secrets, environ={})


def test_production_requires_an_admin_password_hash(tmp_path: Path) -> None:
    secrets = _secrets(
        tmp_path, "mode: production\nbinance:\n  production:\n    api_key: k\n    api_secret: s\n"
    )
    with pytest.raises(SettingsError, match=r"web\.admin_password_hash"):
        _load(tmp_path, secrets, environ={})
