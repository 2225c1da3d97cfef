"""Requests that arrive together are answered by one batched generate.

The first waiting request opens a window of ``window_ms``; every request queued before it closes
(up to ``max_batch``) joins the batch. Questions with different token budgets or decodings are
generated in separate calls (both are properties of the generate call); a sampled request with
its own ``seed`` is generated alone, so that its answer depends on nothing but the request.
Generation runs in one worker thread, one batch at a time, so the event loop keeps accepting requests meanwhile.

One request never fails another: the engine answers a bad question with an error row of its own,
and should a batched call still raise, every request of it is answered again alone, so only the
request that raises gets the exception. A request whose client left (or whose time ran out)
before its batch started is dropped, not generated; a batch whose clients have all left stops
generating at its next token. ``stop`` waits at most ``grace_s`` for the
batch in flight, then fails whatever still waits with :class:`ServerClosing`.
"""

from __future__ import annotations

import asyncio
import functools
from collections import deque
from dataclasses import dataclass

from ..eval.decoding import GREEDY
from .engine import AnswerEngine, Question, Sampling


class ServerClosing(RuntimeError):
    """The server shut down before this request was answered (HTTP 503)."""


@dataclass
class Pending:
    question: Question
    max_new_tokens: int
    future: asyncio.Future
    decoding: object = GREEDY  # GREEDY or a serve.engine.Sampling

    def call_key(self) -> tuple:
        """Requests of one generate call share this key (a seeded sample is its own call)."""
        alone = id(self) if isinstance(self.decoding, Sampling) and self.decoding.seed is not None else None
        return (self.max_new_tokens, repr(self.decoding), alone)


class Batcher:
    def __init__(self, engine: AnswerEngine, window_ms: float = 10.0, max_batch: int = 16):
        self.engine, self.window_s, self.max_batch = engine, window_ms / 1000.0, max_batch
        self.queue: asyncio.Queue[Pending] | None = None
        self.batch_sizes: deque[int] = deque(maxlen=1000)  # sizes of the generate calls run (for /v1/moka/stats)
        self._worker: asyncio.Task | None = None
        self._closing = False
        self._in_flight: list[Pending] = []  # the batch being collected or answered

    def start(self) -> None:
        self.queue = asyncio.Queue()
        self._worker = asyncio.create_task(self._run())

    def close(self) -> None:
        """Refuse new requests and fail the queued ones now (the batch in flight goes on)."""
        self._closing = True
        self._fail_queued()

    async def stop(self, grace_s: float = 10.0) -> None:
        """Let the batch in flight finish within ``grace_s`` (an idle worker stops at once);
        refuse everything else."""
        if self._worker is None:
            return
        worker, self._worker = self._worker, None
        self.close()
        if self._in_flight:
            try:
                await asyncio.wait_for(asyncio.shield(worker), grace_s)
            except (asyncio.TimeoutError, asyncio.CancelledError):
                pass
        worker.cancel()
        self._fail_queued(in_flight=True)

    def _fail_queued(self, in_flight: bool = False) -> None:
        """Fail the queued requests (and the batch in flight: when it is given up)."""
        waiting = list(self._in_flight) if in_flight else []  # settled only if never answered
        while self.queue is not None and not self.queue.empty():
            waiting.append(self.queue.get_nowait())
        for pending in waiting:
            _settle(pending.future, error=ServerClosing("the server is shutting down; retry elsewhere"))

    def enqueue(self, question: Question, max_new_tokens: int, decoding=GREEDY) -> asyncio.Future:
        """The future of the request's answer row; cancel it to drop the request if not yet started."""
        if self._worker is None or self._closing:
            raise ServerClosing("the server is shutting down; retry elsewhere")
        future = asyncio.get_running_loop().create_future()
        self.queue.put_nowait(Pending(question, max_new_tokens, future, decoding))
        return future

    async def submit(self, question: Question, max_new_tokens: int, decoding=GREEDY) -> dict:
        return await self.enqueue(question, max_new_tokens, decoding)

    async def _collect(self) -> list[Pending]:
        batch = self._in_flight = [await self.queue.get()]
        deadline = asyncio.get_running_loop().time() + self.window_s
        while len(batch) < self.max_batch:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                break
            try:
                batch.append(await asyncio.wait_for(self.queue.get(), remaining))
            except asyncio.TimeoutError:
                break
        return [p for p in batch if not p.future.done()]  # a cancelled request is not generated

    async def _run(self) -> None:
        while not self._closing:
            batch = await self._collect()
            groups: dict[tuple, list[Pending]] = {}
            for p in batch:
                groups.setdefault(p.call_key(), []).append(p)
            for group in groups.values():
                await self._answer(group)
            self._in_flight = []

    async def _answer(self, group: list[Pending]) -> None:
        loop = asyncio.get_running_loop()
        budget, decoding = group[0].max_new_tokens, group[0].decoding
        try:
            questions = [p.question for p in group]
            gone = _all_gone(group)  # generation stops once every asker of the batch has left
            call = functools.partial(self.engine.answer, questions, budget, gone, decoding=decoding)
            rows = await loop.run_in_executor(None, call)
        except Exception as err:
            if len(group) > 1:  # answer each alone: only the request that raises learns the error
                for p in group:
                    await self._answer([p])
                return
            _settle(group[0].future, error=err)
            return
        self.batch_sizes.append(len(group))
        for p, row in zip(group, rows, strict=True):
            _settle(p.future, row=row)


def _all_gone(group: list[Pending]):
    return lambda: all(p.future.done() for p in group)


def _settle(future: asyncio.Future, row: dict | None = None, error: Exception | None = None) -> None:
    if future.done():  # the client left or timed out meanwhile
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(row)
