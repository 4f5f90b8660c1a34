"""The Docker image installs requirements-image.lock: the service's own dependencies (and the
build backend), without the dev extra's test and benchmark tools. `make lock` derives it from
requirements.lock as constraints, so the image runs exactly the versions the tests ran."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?==([^\s\\;]+)", re.M)
HASH = re.compile(r"--hash=(sha256:[0-9a-f]{64})")


def pins(lock: str) -> dict[str, str]:
    return {name.lower(): version for name, version in PIN.findall(lock)}


def hashes(lock: str) -> dict[str, set[str]]:
    """Each package's hashes: the block of lines from its pin to the next pin."""
    found: dict[str, set[str]] = {}
    blocks = re.split(r"\n(?=[A-Za-z0-9_.\-]+(?:\[[^\]]*\])?==)", lock)
    for block in blocks:
        match = PIN.match(block.strip())
        if match:
            found[match[1].lower()] = set(HASH.findall(block))
    return found


def normalised(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def test_the_image_lock_pins_the_versions_and_hashes_the_tests_ran() -> None:
    image = (ROOT / "requirements-image.lock").read_text()
    full = (ROOT / "requirements.lock").read_text()
    image_pins, full_pins = pins(image), pins(full)
    assert image_pins, "requirements-image.lock pins nothing"
    assert {k: full_pins.get(k) for k in image_pins} == image_pins
    image_hashes, full_hashes = hashes(image), hashes(full)
    for name, found in image_hashes.items():
        assert found, f"{name} has no hash in requirements-image.lock"
        assert found <= full_hashes[name], name


def test_the_image_lock_holds_the_service_and_none_of_the_dev_tools() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    image = {
        name.replace("_", "-") for name in pins((ROOT / "requirements-image.lock").read_text())
    }
    for requirement in project["dependencies"]:
        assert normalised(requirement) in image, requirement
    dev_only = {normalised(r) for r in project["optional-dependencies"]["dev"]}
    dev_only -= {normalised(r) for r in project["dependencies"]}
    assert dev_only, "the dev extra is empty"
    assert not dev_only & image, dev_only & image


def test_the_dockerfile_installs_the_image_lock() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    instructions = [line for line in dockerfile.splitlines() if not line.startswith("#")]
    copied = [line for line in instructions if line.startswith("COPY") and ".lock" in line]
    assert copied == ["COPY requirements-image.lock ./"]
    assert any(line.strip() == "requirements-image.lock" for line in instructions)  # synced
