"""The README's configuration table lists exactly the settings the service reads."""

from __future__ import annotations

import re
from pathlib import Path

from app.settings import DESCRIPTIONS, PREFIX, Settings

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_lists_every_setting() -> None:
    documented = set(re.findall(r"^\| `(BACKEND_[A-Z_]+)` \|", README.read_text(), re.M))
    expected = {PREFIX + name.upper() for name in Settings.__struct_fields__}
    assert documented == expected


def test_every_setting_has_a_description() -> None:
    assert set(DESCRIPTIONS) == set(Settings.__struct_fields__)
