"""Blocking calls (the database, Authlib's server, spreadsheets) run in a bounded set of worker threads.

`run_blocking(fn, *args, **kwargs)` has the call shape of anyio's `to_thread.run_sync` and
Starlette's `run_in_threadpool` at a fraction of their cost per call (one queue put, one
`call_soon_threadsafe` back; no capacity limiter, no cancel scope, no task lookup), and every
bridge request makes several of these hops. The threads are started by the app's lifespan
(`worker_threads`) for its event loop; without them (a command, a test that runs no lifespan) a
call goes through anyio, as before.

Like anyio: the call runs in a copy of the caller's context (the request id, for logs and audit
rows), at most `size` calls run at once (the database pool is sized to match), a call whose caller
was cancelled before it started is not made, and one already running finishes in its thread, its
answer dropped. Unlike anyio the caller is released at once on cancellation rather than when the
call returns: the lifespan waits for running calls before it closes the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import queue
import threading
import weakref
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, ParamSpec, TypeVar

from anyio import to_thread

T = TypeVar("T")
P = ParamSpec("P")

# Requests reach the database from these threads: the engine's pool holds one connection per thread.
WORKER_THREADS = 40

_Call = tuple["asyncio.Future[Any]", contextvars.Context, Callable[..., Any], tuple[Any, ...]]


class WorkerThreads:
    """Up to `size` threads taking calls from one queue, started as calls wait; answers go back to `loop`."""

    def __init__(self, size: int, loop: asyncio.AbstractEventLoop, *, name: str = "bridge-worker") -> None:
        if size < 1:
            raise ValueError("at least one worker thread")
        self.size = size
        self._loop = loop
        self._name = name
        self._calls: queue.SimpleQueue[_Call | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        # Calls handed to the threads and not yet answered; only ever touched on the loop's thread.
        self._unanswered = 0

    def submit(self, fn: Callable[..., T], args: tuple[Any, ...]) -> asyncio.Future[T]:
        """Queue `fn(*args)` in a copy of the current context (call on the loop's thread)."""
        future: asyncio.Future[T] = self._loop.create_future()
        self._unanswered += 1
        if self._unanswered > len(self._threads) and len(self._threads) < self.size:
            self._start_thread()
        self._calls.put((future, contextvars.copy_context(), fn, args))
        return future

    @property
    def started(self) -> int:
        return len(self._threads)

    def _start_thread(self) -> None:
        thread = threading.Thread(target=self._work, name=f"{self._name}-{len(self._threads)}", daemon=True)
        thread.start()
        self._threads.append(thread)

    def _work(self) -> None:
        calls = self._calls
        while (call := calls.get()) is not None:
            self._make(*call)
            del call  # nothing of the last call is kept alive while the thread waits

    def _make(
        self, future: asyncio.Future[Any], context: contextvars.Context, fn: Callable[..., Any], args: tuple[Any, ...]
    ) -> None:
        result: Any = None
        error: BaseException | None = None
        # A caller that gave up before the call started: it is not made (as anyio's limiter does).
        if not future.cancelled():
            try:
                result = context.run(fn, *args)
            except StopIteration as raised:
                # A future refuses StopIteration (its caller would wait for ever); a coroutine turns it
                # into a RuntimeError the same way.
                error = RuntimeError(f"{fn!r} raised StopIteration")
                error.__cause__ = raised
            except BaseException as raised:  # handed to the caller, traceback and all
                error = raised
        # A closed loop raises RuntimeError: nobody is waiting any more.
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._answer, future, result, error)

    def _answer(self, future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
        self._unanswered -= 1
        if future.cancelled():
            return  # the caller was cancelled while the call ran: its answer is dropped
        if error is None:
            future.set_result(result)
        else:
            future.set_exception(error)

    def shut_down(self) -> None:
        """Let queued and running calls finish, then end the threads (blocks until they have)."""
        for _ in self._threads:
            self._calls.put(None)
        for thread in self._threads:
            thread.join()
        self._threads.clear()


# The worker threads serving each event loop, filled by `worker_threads` (a lifespan) and empty otherwise.
_serving: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, list[WorkerThreads]] = weakref.WeakKeyDictionary()


@asynccontextmanager
async def worker_threads(size: int = WORKER_THREADS) -> AsyncIterator[WorkerThreads]:
    """Serve this event loop's `run_blocking` calls from `size` threads until the block ends."""
    loop = asyncio.get_running_loop()
    threads = WorkerThreads(size, loop)
    _serving.setdefault(loop, []).append(threads)
    try:
        yield threads
    finally:
        _serving[loop].remove(threads)
        # Off the loop, so the calls still running can be answered while we wait for them.
        await to_thread.run_sync(threads.shut_down)


def current_worker_threads() -> WorkerThreads | None:
    """The worker threads serving the running event loop (the innermost `worker_threads`), or None."""
    serving = _serving.get(asyncio.get_running_loop())
    return serving[-1] if serving else None


async def run_blocking(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """`fn(*args, **kwargs)` in a worker thread, in a copy of the caller's context; its result or its exception."""
    call: Callable[..., T] = functools.partial(fn, **kwargs) if kwargs else fn
    threads = current_worker_threads()
    if threads is None:
        return await to_thread.run_sync(call, *args)
    return await threads.submit(call, args)
