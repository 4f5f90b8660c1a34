"""The gateway's path check and the pattern the OpenAPI document gives for it say the same."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.gateway import PATH_PATTERN, EscapingPath, downstream_path

PATTERN = re.compile(PATH_PATTERN)


def allowed(path: str) -> bool:
    try:
        downstream_path(quote(path, safe="/"))
    except EscapingPath:
        return False
    return True


@pytest.mark.parametrize(
    "path",
    ["", "a", "api/2.0/mlflow/runs/get", "a//b", "a/", "..x/y", ".hidden/x", "a/...", "x/a:b",
     "with space", "ünï/cödé"],
)  # fmt: skip
def test_ordinary_paths_pass(path: str) -> None:
    assert allowed(path) and PATTERN.fullmatch(path)


@pytest.mark.parametrize(
    "path",
    ["..", ".", "../a", "a/..", "a/../b", "a/./b", "/etc/passwd", "//evil.example/x",
     "http://evil.example", "c:/x", "a\\b", "a%2e%2e", "%", "a\x00b"],
)  # fmt: skip
def test_escaping_paths_are_refused(path: str) -> None:
    assert not allowed(path) and not PATTERN.fullmatch(path)


@settings(max_examples=3000)
@given(st.text(alphabet=st.sampled_from(list("ab./:%\\\x00é ")), max_size=12))
def test_the_pattern_and_the_check_agree(path: str) -> None:
    assert allowed(path) == bool(PATTERN.fullmatch(path)), path
