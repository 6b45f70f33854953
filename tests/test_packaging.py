"""What ships: the bridge's wheel holds the bridge alone, no image can hold a private key, and the
environment `./dev` builds is the one requirements/lock.txt pins (versions and hashes)."""

from __future__ import annotations

import json
import re
import tomllib
import zipfile
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ROOT / "requirements"
# The repository's own distributions, by folder; installed from there, never pinned in a lock.
LOCAL = {"edu-id-bridge": ROOT, "edu-id-gost-jws": ROOT / "gost_jws", "edu-id-idp-mock": ROOT / "idp_mock",
         "edu-id-bridge-demo": ROOT / "demo", "edu-id-mail-sink": ROOT / "mail_sink"}
DEMO_KEY = ROOT / "demo" / "bridge_demo" / "keys" / "bridge-demo-esia-key.json"
PEM_PRIVATE_KEY = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")


def holds_private_key(name: str, data: bytes) -> bool:
    """A PEM private key, or a JSON key (JWK, JWKS, our GOST JSON) with its private part ``d``."""
    text = data.decode("utf-8", errors="replace")
    if PEM_PRIVATE_KEY.search(text):
        return True
    if not name.endswith(".json"):
        return False
    try:
        return any("d" in value for value in _objects(json.loads(text)))
    except ValueError:
        return False


def _objects(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, dict):
        yield value
        for item in value.values():
            yield from _objects(item)
    elif isinstance(value, list):
        for item in value:
            yield from _objects(item)


def test_the_key_detector_finds_the_demo_key() -> None:
    assert holds_private_key(DEMO_KEY.name, DEMO_KEY.read_bytes())
    public = ROOT / "idp_mock" / "idp_mock" / "demo" / "bridge-demo-esia-public.json"
    assert not holds_private_key(public.name, public.read_bytes())


# -- wheels -------------------------------------------------------------------------------------


def build_wheel(source: Path, target: Path, monkeypatch: pytest.MonkeyPatch) -> zipfile.ZipFile:
    """The wheel the Dockerfile builds (`pip wheel --no-build-isolation`), through hatchling's PEP 517 hook."""
    from hatchling.build import build_wheel as hatchling_build_wheel

    monkeypatch.chdir(source)
    return zipfile.ZipFile(target / hatchling_build_wheel(str(target)))


@pytest.mark.parametrize(
    ("distribution", "package"),
    [("edu-id-bridge", "bridge"), ("edu-id-gost-jws", "gost_jws"), ("edu-id-idp-mock", "idp_mock")],
)
def test_each_image_wheel_holds_its_package_and_no_private_key(
    distribution: str, package: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wheel = build_wheel(LOCAL[distribution], tmp_path, monkeypatch)
    metadata_folder = f"{canonicalize_name(distribution).replace('-', '_')}-0.1.0.dist-info/"
    names = wheel.namelist()
    strays = [name for name in names if not name.startswith((f"{package}/", metadata_folder))]
    assert strays == []
    assert [name for name in names if holds_private_key(name, wheel.read(name))] == []


def test_the_bridge_wheel_is_the_bridge_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    wheel = build_wheel(ROOT, tmp_path, monkeypatch)
    names = set(wheel.namelist())
    assert not any(name.startswith(("idp_mock/", "gost_jws/", "bridge_demo/", "bridge/demo/")) for name in names)
    # What the bridge reads at run time comes with it.
    assert {"bridge/templates/base.html", "bridge/storage/migrations/script.py.mako"} <= names
    assert any(name.startswith("bridge/storage/migrations/versions/") for name in names)
    entry_points = wheel.read("edu_id_bridge-0.1.0.dist-info/entry_points.txt").decode()
    assert re.findall(r"^(\S+) =", entry_points, re.MULTILINE) == ["bridge"]


# -- the Docker build context ---------------------------------------------------------------------


def docker_context() -> list[Path]:
    """The files .dockerignore lets into the build context (it is an allow-list: `*`, then `!…`)."""
    rules = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()]
    rules = [rule for rule in rules if rule and not rule.startswith("#")]
    assert rules[0] == "*", ".dockerignore must start by excluding everything"
    files: set[Path] = set()
    for rule in rules[1:]:
        if not rule.startswith("!"):
            continue
        for match in ROOT.glob(rule[1:]):
            files.update(match.rglob("*") if match.is_dir() else [match])
    return sorted(path for path in files if path.is_file() and "__pycache__" not in path.parts)


def test_no_image_can_hold_a_private_key() -> None:
    context = docker_context()
    assert ROOT / "bridge" / "app.py" in context and DEMO_KEY not in context
    assert not any(path.is_relative_to(ROOT / "demo") for path in context)
    assert [path for path in context if holds_private_key(path.name, path.read_bytes())] == []


def test_the_dockerfile_copies_only_from_the_context_or_its_own_stages() -> None:
    context = docker_context()
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if not line.startswith("COPY ") or "--from=" in line:
            continue
        *sources, _ = line.split()[1:]
        for source in sources:
            assert any(path == ROOT / source or path.is_relative_to(ROOT / source) for path in context), source


# -- the locks -------------------------------------------------------------------------------------


def read_lock(name: str) -> dict[str, str]:
    """requirements/NAME.txt as {distribution: version}; every entry must be `==` with hashes."""
    pins: dict[str, str] = {}
    entries = re.split(r"\n(?=\S)", (REQUIREMENTS / name).read_text())
    for entry in entries:
        if entry.startswith("#") or not entry.strip():
            continue
        found = re.match(r"([A-Za-z0-9._-]+)==(\S+?)(?: ;.*?)? \\\n", entry)
        assert found, f"{name}: not a pinned requirement: {entry.splitlines()[0]}"
        assert "--hash=sha256:" in entry, f"{name}: {found[1]} has no hash"
        pins[canonicalize_name(found[1])] = found[2]
    return pins


def declared(distribution: str, extras: tuple[str, ...] = ()) -> list[Requirement]:
    project = tomllib.loads((LOCAL[distribution] / "pyproject.toml").read_text())["project"]
    listed = [*project["dependencies"], *(r for extra in extras for r in project["optional-dependencies"][extra])]
    return [Requirement(text) for text in listed]


@pytest.mark.parametrize(
    ("lock", "distributions"),
    [
        ("lock.txt", {"edu-id-bridge": ("dev",), "edu-id-gost-jws": (), "edu-id-idp-mock": (),
                      "edu-id-bridge-demo": (), "edu-id-mail-sink": ()}),
        ("bridge.txt", {"edu-id-bridge": (), "edu-id-gost-jws": ()}),
        ("idp-mock.txt", {"edu-id-gost-jws": (), "edu-id-idp-mock": ()}),
    ],
)
def test_each_lock_satisfies_what_its_distributions_declare(
    lock: str, distributions: dict[str, tuple[str, ...]]
) -> None:
    pins = read_lock(lock)
    stale = [
        f"{requirement} (locked: {pins.get(canonicalize_name(requirement.name))})"
        for distribution, extras in distributions.items()
        for requirement in declared(distribution, extras)
        if requirement.name not in LOCAL
        and (requirement.marker is None or requirement.marker.evaluate())
        and not requirement.specifier.contains(pins.get(canonicalize_name(requirement.name), "0"), prereleases=True)
    ]
    assert stale == [], "a pyproject.toml changed after the lock: run ./dev lock"
    assert not set(pins) & set(LOCAL)


@pytest.mark.parametrize("lock", ["bridge.txt", "idp-mock.txt", "build.txt"])
def test_the_image_locks_ship_the_versions_the_tests_ran_on(lock: str) -> None:
    everything = read_lock("lock.txt")
    assert {name: version for name, version in read_lock(lock).items() if everything.get(name) != version} == {}


def test_the_environment_is_the_lock() -> None:
    """Every distribution our four and ./dev's tools need, in .venv, is at the version requirements/lock.txt pins."""
    pins = read_lock("lock.txt")
    installed: dict[str, str] = {}
    tools = re.findall(r"^([A-Za-z][\w.-]*)$", (REQUIREMENTS / "lock.in").read_text(), re.MULTILINE)
    waiting = {(name, "dev" if name == "edu-id-bridge" else "") for name in [*LOCAL, *tools]}
    visited: set[tuple[str, str]] = set()
    while waiting:
        name, extra = waiting.pop()
        visited.add((name, extra))
        distribution = metadata.distribution(name)
        installed[name] = distribution.version
        for requirement in map(Requirement, distribution.requires or []):
            if requirement.marker is None or requirement.marker.evaluate({"extra": extra}):
                needed = canonicalize_name(requirement.name)
                waiting |= {(needed, extra) for extra in ("", *requirement.extras)} - visited
    off = {name: (version, pins.get(name)) for name, version in installed.items() if name not in LOCAL}
    assert {name: found for name, found in off.items() if found[0] != found[1]} == {}, "run ./dev to install the lock"
