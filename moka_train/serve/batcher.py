"""Requests that arrive together are answered by one batched generate.

The first waiting request opens a window of ``window_ms``; every request queued before it closes
(up to ``max_batch``) joins the batch. Questions with different token budgets are generated in
separate calls (a budget is a property of the generate call). Generation runs in one worker
thread, one batch at a time, so the event loop keeps accepting requests meanwhile.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass

from .engine import AnswerEngine, Question


@dataclass
class Pending:
    question: Question
    max_new_tokens: int
    future: asyncio.Future


class Batcher:
    def __init__(self, engine: AnswerEngine, window_ms: float = 10.0, max_batch: int = 16):
        self.engine, self.window_s, self.max_batch = engine, window_ms / 1000.0, max_batch
        self.queue: asyncio.Queue[Pending] | None = None
        self.batch_sizes: deque[int] = deque(maxlen=1000)  # sizes of the generate calls run (for /v1/moka/stats)
        self._worker: asyncio.Task | None = None

    def start(self) -> None:
        self.queue = asyncio.Queue()
        self._worker = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._worker is not None:
            self._worker.cancel()

    async def submit(self, question: Question, max_new_tokens: int) -> dict:
        future = asyncio.get_running_loop().create_future()
        await self.queue.put(Pending(question, max_new_tokens, future))
        return await future

    async def _collect(self) -> list[Pending]:
        batch = [await self.queue.get()]
        deadline = asyncio.get_running_loop().time() + self.window_s
        while len(batch) < self.max_batch:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                break
            try:
                batch.append(await asyncio.wait_for(self.queue.get(), remaining))
            except asyncio.TimeoutError:
                break
        return batch

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = await self._collect()
            for budget in sorted({p.max_new_tokens for p in batch}):
                group = [p for p in batch if p.max_new_tokens == budget]
                try:
                    rows = await loop.run_in_executor(None, self.engine.answer, [p.question for p in group], budget)
                except Exception as err:  # a failure of the whole call: every waiting request learns it
                    for p in group:
                        p.future.set_exception(err)
                    continue
                self.batch_sizes.append(len(group))
                for p, row in zip(group, rows, strict=True):
                    p.future.set_result(row)
