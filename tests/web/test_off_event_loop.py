"""Database reads a route needs happen in worker threads, never on the event loop.

On the loop, one sign-in session read (a transaction: the session, its person, their role) held
every other request for 2 ms on average and up to 10 ms on the administration pages, and a writer's
lock on SQLite could hold it for the whole busy timeout. Read with `ast`: inside an `async def` in
bridge/, a blocking reader is only ever handed to a worker thread (`run_blocking(current_signin, …)`
or `signed_in`), not called; code in a nested `def` or `lambda` runs where it is handed, so it is not
looked at.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

BRIDGE = Path(__file__).resolve().parent.parent.parent / "bridge"

# Synchronous functions that open a database transaction, called by name from route code.
BLOCKING_READERS = frozenset({"current_signin"})


def direct_calls(function: ast.AsyncFunctionDef) -> Iterator[ast.Call]:
    """Calls made by the coroutine itself, not by functions or lambdas defined in it."""
    pending: list[ast.AST] = list(function.body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            continue
        if isinstance(node, ast.Call):
            yield node
        pending.extend(ast.iter_child_nodes(node))


def blocking_calls_on_the_loop(source: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.AsyncFunctionDef):
            for call in direct_calls(node):
                name = call.func.attr if isinstance(call.func, ast.Attribute) else getattr(call.func, "id", "")
                if name in BLOCKING_READERS:
                    found.append(f"{node.name}:{call.lineno} {ast.unparse(call)}")
    return found


def test_no_coroutine_in_bridge_calls_a_blocking_reader() -> None:
    offenders = {
        str(path.relative_to(BRIDGE)): calls
        for path in sorted(BRIDGE.rglob("*.py"))
        if (calls := blocking_calls_on_the_loop(path.read_text(encoding="utf-8")))
    }
    assert offenders == {}


def test_the_check_sees_a_direct_call_and_lets_a_handed_one_pass() -> None:
    source = '''
async def page(request):
    active = current_signin(request)
    handed = await run_blocking(current_signin, request)
    later = await run_blocking(lambda: context.current_signin(request))
    return context.current_signin(request)
'''
    assert blocking_calls_on_the_loop(source) == [
        "page:6 context.current_signin(request)", "page:3 current_signin(request)",
    ]
