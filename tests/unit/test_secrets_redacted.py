"""Secrets never printed: Settings and the container redact them in repr, logs redact them."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.bootstrap import Container
from app.log_redaction import redact
from app.settings import load_settings

SECRET = "Jq7Vw2Lx9Rt4Mz8Kp3Hn6Bc1Gd5Fs0Ya"
PASSWORD = "pw-Zz81Qq"
SASL = "sasl-Yy72Ww"


def settings_with_secrets(tmp_path: Path) -> object:
    return load_settings(
        {
            "BACKEND_DATA_DIR": str(tmp_path),
            "BACKEND_JWT_SECRET": SECRET,
            "BACKEND_EVENT_STORE_URL": f"postgresql://tradai:{PASSWORD}@db:5432/tradai",
            "BACKEND_READ_MODEL_URL": f"postgresql+psycopg://tradai:{PASSWORD}@db/tradai",
            "BACKEND_KAFKA_SASL_PASSWORD": SASL,
        }
    )


def test_settings_repr_and_rich_repr_redact_secrets(tmp_path: Path) -> None:
    settings = settings_with_secrets(tmp_path)
    shown = repr(settings) + str(settings) + repr(list(settings.__rich_repr__()))  # type: ignore[attr-defined]
    for secret in (SECRET, PASSWORD, SASL, SECRET[:16]):
        assert secret not in shown
    assert "postgresql://tradai:[redacted]@db:5432/tradai" in shown
    assert settings.jwt_secret == SECRET  # type: ignore[attr-defined]  # the value is kept


def test_the_container_repr_shows_no_secret(tmp_path: Path) -> None:
    settings = settings_with_secrets(tmp_path)
    fields = {name: None for name in Container.__dataclass_fields__ if not name.startswith("_")}
    container = Container(**fields | {"settings": settings, "jwt_secret": SECRET})  # type: ignore[arg-type]
    assert SECRET not in repr(container) and PASSWORD not in repr(container)
    assert repr(container).startswith("Container(settings=Settings(")


@pytest.mark.parametrize(
    "text",
    [
        f"connect to postgresql://tradai:{PASSWORD}@db/tradai failed",
        f"Authorization: Bearer {SECRET}",
        f"kafka_sasl_password='{PASSWORD}'",
        f'{{"password": "{PASSWORD}"}}',
        f"AWS_SECRET_ACCESS_KEY={PASSWORD}",
    ],
)
def test_log_lines_are_redacted(text: str) -> None:
    assert PASSWORD not in redact(text) and SECRET not in redact(text)
    assert "[redacted]" in redact(text)


def test_aws_access_key_ids_are_redacted() -> None:
    assert redact("key AKIAQWERTYUIOPASDFGH used") == "key [redacted] used"
