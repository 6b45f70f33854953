"""Worker threads for blocking calls: context, errors, cancellation, bounds, and the fallback to anyio."""

from __future__ import annotations

import asyncio
import threading
import traceback
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from bridge.blocking import run_blocking, worker_threads

pytestmark = pytest.mark.anyio

request_label: ContextVar[str] = ContextVar("request_label", default="none")


@contextmanager
def loop_errors() -> Iterator[list[dict[str, Any]]]:
    """What the running loop's exception handler is given (an InvalidStateError in a callback lands here)."""
    loop = asyncio.get_running_loop()
    seen: list[dict[str, Any]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: seen.append(context))
    try:
        yield seen
    finally:
        loop.set_exception_handler(previous)


def label_and_thread() -> tuple[str, str]:
    return request_label.get(), threading.current_thread().name


async def test_the_call_sees_the_callers_context_and_cannot_change_it() -> None:
    def relabel() -> str:
        seen = request_label.get()
        request_label.set("changed in the thread")
        return seen

    async with worker_threads(2):
        token = request_label.set("request 1")
        try:
            assert await run_blocking(relabel) == "request 1"
            assert request_label.get() == "request 1"
            label, thread = await run_blocking(label_and_thread)
        finally:
            request_label.reset(token)
    assert label == "request 1"
    assert thread.startswith("bridge-worker")


async def test_arguments_and_keywords_reach_the_call() -> None:
    def join(*parts: str, separator: str = "-") -> str:
        return separator.join(parts)

    async with worker_threads(1):
        assert await run_blocking(join, "a", "b") == "a-b"
        assert await run_blocking(join, "a", "b", separator="+") == "a+b"


async def test_an_exception_reaches_the_caller_with_the_frame_that_raised_it() -> None:
    def fails_inside() -> None:
        raise LookupError("no such row")

    async with worker_threads(1):
        with pytest.raises(LookupError, match="no such row") as raised:
            await run_blocking(fails_inside)
        # The thread is still serving after an error.
        assert await run_blocking(lambda: 42) == 42
    frames = [frame.name for frame in traceback.extract_tb(raised.value.__traceback__)]
    assert "fails_inside" in frames


async def test_a_stray_stop_iteration_is_a_runtime_error_not_a_caller_waiting_for_ever() -> None:
    async with worker_threads(1):
        with pytest.raises(RuntimeError, match="StopIteration") as raised:
            # Bounded, so that the failure this guards against (no answer at all) fails instead of hanging.
            await asyncio.wait_for(run_blocking(next, iter(())), 30)
    assert isinstance(raised.value.__cause__, StopIteration)


async def test_a_cancelled_caller_leaves_the_call_to_finish_and_its_answer_is_dropped() -> None:
    started, release, finished = threading.Event(), threading.Event(), threading.Event()

    def slow() -> str:
        started.set()
        release.wait(5)
        finished.set()
        return "late answer"

    with loop_errors() as errors:
        async with worker_threads(1):
            caller = asyncio.ensure_future(run_blocking(slow))
            await asyncio.to_thread(started.wait, 5)
            caller.cancel()
            with pytest.raises(asyncio.CancelledError):
                await caller
            assert not finished.is_set()
            release.set()
            # The next call queues behind the running one: when it answers, the late answer was handled.
            assert await run_blocking(lambda: "next") == "next"
        assert finished.is_set()
        await asyncio.sleep(0)
    assert errors == []


async def test_a_call_whose_caller_gave_up_before_it_started_is_not_made() -> None:
    release = threading.Event()
    made: list[str] = []

    async with worker_threads(1):
        busy = asyncio.ensure_future(run_blocking(release.wait, 5))
        waiting = asyncio.ensure_future(run_blocking(made.append, "made"))
        await asyncio.sleep(0.01)
        waiting.cancel()
        release.set()
        assert await busy is True
        assert await run_blocking(lambda: "next") == "next"
    assert made == []


async def test_no_more_calls_run_at_once_than_there_are_threads() -> None:
    lock = threading.Lock()
    running, most = 0, 0
    gate = threading.Barrier(2, timeout=5)

    def counted() -> None:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        gate.wait()  # two at a time get through: a third would wait here for a partner
        with lock:
            running -= 1

    async with worker_threads(2) as threads:
        await asyncio.gather(*(run_blocking(counted) for _ in range(6)))
        assert threads.started == 2
    assert most == 2


async def test_the_block_ends_after_the_running_calls_have_finished() -> None:
    finished = threading.Event()

    def slow() -> None:
        threading.Event().wait(0.05)
        finished.set()

    async with worker_threads(1):
        caller = asyncio.ensure_future(run_blocking(slow))
        await asyncio.sleep(0)
    assert finished.is_set()
    await caller


async def test_without_worker_threads_a_call_goes_through_anyio_with_the_context() -> None:
    token = request_label.set("request 2")
    try:
        label, thread = await run_blocking(label_and_thread)
    finally:
        request_label.reset(token)
    assert label == "request 2"
    assert not thread.startswith("bridge-worker")


def test_an_app_started_by_the_test_client_serves_its_calls_from_its_threads() -> None:
    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        async with worker_threads(3):
            yield

    async def endpoint(request: Request) -> JSONResponse:
        request_label.set(request.query_params["label"])
        label, thread = await run_blocking(label_and_thread)
        return JSONResponse({"label": label, "thread": thread})

    app = Starlette(routes=[Route("/", endpoint)], lifespan=lifespan)
    with TestClient(app) as client:
        answer = client.get("/", params={"label": "request 3"}).json()
    assert answer == {"label": "request 3", "thread": "bridge-worker-0"}
