"""Read the images of concurrent requests together, in one batch per forward pass."""
from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from PIL import Image

from ocr.reading.recognizer import Recognizer
from ocr.text.decoding import Prediction


class RequestBatcher:
    """Queue images from any number of requests; one worker reads up to ``max_batch`` of
    them at a time: those that queued while the previous batch was read, and any arriving
    within ``max_wait_ms`` of the first (0 by default: waiting cost a lone client more
    than it gained under load, benchmarks/serve_load.py).

    The network runs on one thread beside the event loop, so the server keeps accepting
    requests while a batch is read; a reading does not depend on what else is in its batch.
    """

    def __init__(self, recognizer: Recognizer, max_batch: int = 64, max_wait_ms: float = 0.0) -> None:
        if max_batch < 1 or max_wait_ms < 0:
            raise ValueError(f"max_batch must be >= 1 and max_wait_ms >= 0, got {max_batch} and {max_wait_ms}")
        self.recognizer, self.max_batch, self.max_wait = recognizer, max_batch, max_wait_ms / 1000
        self._queue: asyncio.Queue[tuple[Image.Image, asyncio.Future]] | None = None
        self._worker: asyncio.Task | None = None
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ocr-read")
        self.batches_read = 0  # forward passes so far (for /health and the benchmark)

    async def start(self) -> None:
        self._queue = asyncio.Queue()
        self._worker = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
        self._thread.shutdown(wait=False, cancel_futures=True)

    async def read(self, images: list[Image.Image]) -> list[Prediction]:
        """Predictions for ``images``, in order, read together with other requests' images."""
        loop = asyncio.get_running_loop()
        futures = [loop.create_future() for _ in images]
        for image, future in zip(images, futures):
            self._queue.put_nowait((image, future))
        return list(await asyncio.gather(*futures))

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = [await self._queue.get()]
            deadline = loop.time() + self.max_wait
            while len(batch) < self.max_batch:
                try:
                    batch.append(self._queue.get_nowait() if not self._queue.empty()
                                 else await asyncio.wait_for(self._queue.get(), max(deadline - loop.time(), 0)))
                except TimeoutError:
                    break
            images, futures = zip(*batch)
            try:
                predictions = await loop.run_in_executor(self._thread, self.recognizer.read, list(images))
            except Exception as err:  # noqa: BLE001 - handed to the requests that asked
                for future in futures:
                    if not future.done():
                        future.set_exception(err)
                continue
            self.batches_read += 1
            for future, prediction in zip(futures, predictions):
                if not future.done():  # a client that went away cancelled its future
                    future.set_result(prediction)
