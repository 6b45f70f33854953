"""Prove the tests notice a removed protection: apply each named mutation to a copy, run its tests.

    .venv/bin/python scripts/mutation_check.py                 # every mutation, SQLite, 2 at a time
    .venv/bin/python scripts/mutation_check.py --only csrf.logout --only code.claim_once
    .venv/bin/python scripts/mutation_check.py --both-databases --jobs 1
    .venv/bin/python scripts/mutation_check.py --list

The repository's files (`git ls-files`, plus untracked files not ignored) are copied to a
temporary folder; the named tests are first run there unmutated (they must pass, or a failure
would prove nothing); then each mutation of scripts/mutation_catalogue.py is applied to its own
fresh copy and its tests run with `pytest -x -q`. A mutation is KILLED when a test fails,
SURVIVED when they all pass, MISSING when its original snippet is not found exactly once (or a
named test file is gone), ERROR when pytest could not run the tests (collection error, timeout).
The exit status is 0 only when every mutation was KILLED.

This is the project's stand-in for mutmut (whose current release fails on Python 3.11, and whose
full run is slow on two cores): a short list of deletions and inversions of real checks.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from mutation_catalogue import CATALOGUE, Mutation

ROOT = Path(__file__).resolve().parent.parent
# Parametrized storage tests have ids ending in [sqlite] / [postgresql]; the rest run either way.
SQLITE_ONLY = "not postgresql"
TIMEOUT_SECONDS = 900
# Each distribution's folder in the repository, and the package it holds (see pyproject.toml files).
SOURCE_ROOTS = {
    "bridge": ".", "gost_jws": "gost_jws", "idp_mock": "idp_mock", "bridge_demo": "demo", "mail_sink": "mail_sink",
}


@dataclass(frozen=True)
class Result:
    name: str
    status: str  # KILLED, SURVIVED, MISSING, ERROR
    seconds: float
    detail: str


def repository_files(root: Path) -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=root, check=True, capture_output=True,
    ).stdout.decode()
    return sorted({name for name in listed.split("\0") if name and (root / name).is_file()})


def copy_repository(files: Iterable[str], target: Path) -> None:
    for name in files:
        destination = target / name
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, destination)


def fresh_copy(snapshot: Path, target: Path) -> None:
    shutil.copytree(snapshot, target, dirs_exist_ok=True)


def apply(mutation: Mutation, copy: Path) -> str | None:
    """Mutate the copy; the reason it cannot be applied, or None."""
    for edit in mutation.edits:
        path = copy / edit.file
        if not path.is_file():
            return f"{edit.file} does not exist"
        text = path.read_text(encoding="utf-8")
        found = text.count(edit.original)
        if found != 1:
            return f"original snippet found {found} times in {edit.file}"
        path.write_text(text.replace(edit.original, edit.mutated), encoding="utf-8")
    return None


def missing_tests(tests: Sequence[str], copy: Path) -> list[str]:
    return [test for test in tests if not (copy / test.split("::", 1)[0]).exists()]


# pytest processes still running, so that an interrupted check leaves none behind.
_RUNNING: set[subprocess.Popen[str]] = set()


def run_pytest(copy: Path, tests: Sequence[str], keyword: str | None) -> tuple[int, str]:
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests]
    if keyword:
        command += ["-k", keyword]
    env = copy_environment(copy)
    with subprocess.Popen(
        command, cwd=copy, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,  # its own process group: servers a test starts are stopped with it
    ) as process:
        _RUNNING.add(process)
        try:
            output, _ = process.communicate(timeout=TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            kill_group(process)
            process.communicate()
            return -1, f"timed out after {TIMEOUT_SECONDS} s"
        finally:
            _RUNNING.discard(process)
    return process.returncode, output


def kill_group(process: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def stop_running() -> None:
    for process in list(_RUNNING):
        kill_group(process)


def first_failure(output: str) -> str:
    for line in output.splitlines():
        if line.startswith(("FAILED ", "ERROR ")):
            return line.split(" ", 1)[1][:160]
    return output.strip().splitlines()[-1][:160] if output.strip() else ""


def copy_environment(copy: Path) -> dict[str, str]:
    """The copy, not the editable installs, must be what `import bridge` (`idp_mock`, …) finds."""
    path = os.pathsep.join(str(copy / folder) for folder in SOURCE_ROOTS.values())
    return {**os.environ, "PYTHONPATH": path, "PYTHONDONTWRITEBYTECODE": "1"}


def check_imports_from(copy: Path) -> None:
    for package in SOURCE_ROOTS:
        where = subprocess.run(
            [sys.executable, "-c", f"import {package}; print({package}.__file__)"],
            cwd=copy, env=copy_environment(copy), check=True, capture_output=True, text=True,
        ).stdout.strip()
        if not Path(where).resolve().is_relative_to(copy.resolve()):
            raise SystemExit(f"`import {package}` in the copy finds {where}: the mutations would not be tested")


def run_one(mutation: Mutation, snapshot: Path, keyword: str | None) -> Result:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=f"mutation-{mutation.name}-") as folder:
        copy = Path(folder)
        fresh_copy(snapshot, copy)
        problem = apply(mutation, copy)
        gone = missing_tests(mutation.tests, copy)
        if problem or gone:
            return Result(mutation.name, "MISSING", 0.0, problem or f"no such tests: {', '.join(gone)}")
        code, output = run_pytest(copy, mutation.tests, None if mutation.needs_postgresql else keyword)
    seconds = time.monotonic() - started
    if code == 1:
        return Result(mutation.name, "KILLED", seconds, first_failure(output))
    if code == 0:
        return Result(mutation.name, "SURVIVED", seconds, "every named test passed")
    return Result(mutation.name, "ERROR", seconds, f"pytest exit {code}: {first_failure(output)}")


def baseline(mutations: Sequence[Mutation], snapshot: Path, keyword: str | None) -> None:
    tests = sorted({test for mutation in mutations for test in mutation.tests})
    with tempfile.TemporaryDirectory(prefix="mutation-baseline-") as folder:
        copy = Path(folder)
        fresh_copy(snapshot, copy)
        check_imports_from(copy)
        gone = missing_tests(tests, copy)
        if gone:
            raise SystemExit(f"baseline: no such tests: {', '.join(gone)}")
        print(f"baseline: {len(tests)} test paths, unmutated …", flush=True)
        code, output = run_pytest(copy, tests, keyword)
    if code != 0:
        raise SystemExit(f"baseline failed (pytest exit {code}), a kill would prove nothing:\n{output[-3000:]}")
    print("baseline: green", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", action="append", default=[], metavar="NAME", help="run only these (repeatable)")
    parser.add_argument("--jobs", type=int, default=2, help="mutations run at once (at most 2)")
    parser.add_argument("--both-databases", action="store_true", help="PostgreSQL too (default: SQLite only)")
    parser.add_argument("--no-baseline", action="store_true", help="skip the unmutated run")
    parser.add_argument("--list", action="store_true", help="print the catalogue and stop")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))

    unknown = set(args.only) - {mutation.name for mutation in CATALOGUE}
    if unknown:
        parser.error(f"unknown mutations: {', '.join(sorted(unknown))}")
    names = [mutation.name for mutation in CATALOGUE]
    if len(set(names)) != len(names):
        parser.error("mutation names must be unique")
    selected = [mutation for mutation in CATALOGUE if not args.only or mutation.name in args.only]
    if args.list:
        for mutation in selected:
            files = ", ".join(dict.fromkeys(edit.file for edit in mutation.edits))
            print(f"{mutation.name:<28} {files:<34} {mutation.protects}")
        return 0

    keyword = None if args.both_databases else SQLITE_ONLY
    results: list[Result] = []
    # One snapshot of the working tree at the start: edits made while the check runs do not leak in.
    with tempfile.TemporaryDirectory(prefix="mutation-snapshot-") as folder:
        snapshot = Path(folder)
        copy_repository(repository_files(ROOT), snapshot)
        pool = ThreadPoolExecutor(max_workers=max(1, min(args.jobs, 2)))
        try:
            if not args.no_baseline:
                baseline(selected, snapshot, keyword)
            for result in pool.map(lambda mutation: run_one(mutation, snapshot, keyword), selected):
                results.append(result)
                print(f"{result.status:<9} {result.name:<28} {result.seconds:6.1f}s  {result.detail}", flush=True)
        except BaseException:
            # Interrupted (Ctrl+C, SIGTERM): start nothing more and leave no pytest behind.
            pool.shutdown(wait=False, cancel_futures=True)
            stop_running()
            raise
        pool.shutdown()

    counts = {status: sum(result.status == status for result in results)
              for status in ("KILLED", "SURVIVED", "MISSING", "ERROR")}
    print(f"\n{counts['KILLED']}/{len(results)} killed, " + ", ".join(
        f"{count} {status.lower()}" for status, count in counts.items() if status != "KILLED"))
    return 0 if counts["KILLED"] == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
