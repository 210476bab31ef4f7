"""Concurrent model calls handed out as a plain iterator of outcomes.

The workers run on an event loop that this module drives from the caller's own
thread, a step at a time: the loop runs while the caller waits for the next
outcome, and pauses while the caller stores it. So the papers (read lazily from
the store) and the writes between outcomes stay on the thread that owns the
database connection, and the caller needs no async code and no locks.

Closing the iterator early (a stop, an error or Ctrl-C in the caller) cancels
the requests in flight and closes the client; a Ctrl-C while the loop runs ends
the batch with KeyboardInterrupt the same way.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Awaitable, Callable, Collection, Coroutine, Iterator
from contextlib import contextmanager, suppress
from dataclasses import replace
from typing import Any

from digest.backends.base import Outcome
from digest.backends.llm_run import Halt, RunState
from digest.errors import BackendError
from digest.models import Paper

Put = Callable[[Outcome], None]


class SetupProblem(Exception):
    """A setup problem: no further paper is sent, and the batch ends with this message."""


def outcomes(main: Callable[[Put], Coroutine[Any, Any, None]]) -> Iterator[Outcome]:
    """Run `main(put)` and yield each outcome it puts, as soon as it is put; when
    `main` ends, raise what it raised (after every outcome it put is out)."""
    queue: asyncio.Queue[Outcome | None] = asyncio.Queue()  # None: main ended, or Ctrl-C
    runner = asyncio.Runner()
    pressed: list[int] = []

    def wake() -> None:
        with suppress(RuntimeError):  # the runner is closing: nothing is left to wake
            runner.get_loop().call_soon_threadsafe(queue.put_nowait, None)

    # Leaving `runner` cancels what is in flight, with Ctrl-C still only recorded.
    with _ctrl_c_recorded(pressed, wake), runner:

        async def start() -> asyncio.Task[None]:
            task = asyncio.create_task(main(queue.put_nowait))
            task.add_done_callback(lambda _: queue.put_nowait(None))
            return task

        task = runner.run(start())
        while not pressed:
            item = runner.run(queue.get())
            if item is None:
                break
            yield item  # a paper finished before a Ctrl-C is still handed out, to be kept
        if pressed:
            raise KeyboardInterrupt
        task.result()


@contextmanager
def _ctrl_c_recorded(pressed: list[int], wake: Callable[[], None]) -> Iterator[None]:
    """While a batch runs, Ctrl-C is recorded and wakes the loop, and the batch then
    ends with KeyboardInterrupt from a known point. A KeyboardInterrupt raised in the
    middle of the event loop (what a second Ctrl-C does under asyncio.run) can leave
    it unable to cancel the requests in flight. Only in the main thread, and only
    when nobody else handles SIGINT (the scheduler turns it into a stop request)."""
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    ):
        yield
        return

    def on_sigint(signum: int, _frame: object) -> None:
        pressed.append(signum)
        wake()

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


async def work_through(
    papers: Collection[Paper],
    workers: int,
    run: RunState,
    one: Callable[[Paper], Awaitable[Outcome]],
    put: Put,
) -> None:
    """`one(paper)` for each paper, `workers` at a time, `put`ting each outcome as it
    is ready. A stop request ends the batch at once; a SetupProblem lets the
    requests in flight finish, then raises BackendError with its message."""
    pending = iter(papers)  # shared by all workers: each paper is taken once
    try:
        async with asyncio.TaskGroup() as group:
            for _ in range(min(workers, len(papers))):
                group.create_task(_worker(pending, run, one, put))
    except BaseExceptionGroup as failed:  # a bug, or a stop: the first that is not a stop
        errors = [e for e in failed.exceptions if not isinstance(e, Halt)]
        if errors:
            raise errors[0] from None
    if run.fatal:
        raise BackendError(run.fatal)


async def _worker(
    pending: Iterator[Paper], run: RunState, one: Callable[[Paper], Awaitable[Outcome]], put: Put
) -> None:
    for paper in pending:
        if run.fatal:
            return
        run.check_stop()
        try:
            outcome = await one(paper)
        except SetupProblem as problem:  # calls in flight elsewhere still finish and are kept
            run.fatal = run.fatal or str(problem)
            return
        if outcome.failure is not None and run.stopped and not run.stop_told:
            run.stop_told = True  # the papers after it are told once, by this one
            outcome = replace(outcome, failure=replace(outcome.failure, stops=run.stopped))
        put(outcome)
