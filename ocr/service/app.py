"""The HTTP API and web page: ``POST /read``, ``GET /health``, ``GET /`` (OpenAPI at /docs)."""
from __future__ import annotations

from contextlib import asynccontextmanager
from importlib import resources

from fastapi import FastAPI, File, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse

from ocr.data.transforms import ImageLoadError, NotAnImageError
from ocr.reading.recognizer import Recognizer
from ocr.service.batching import RequestBatcher

MAX_UPLOAD_BYTES = 10 * 1024 * 1024  # per image, the default of ocr serve --max-upload-mb


class UploadError(ValueError):
    """An uploaded file that cannot be read; ``status`` is the HTTP code to answer with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def create_app(recognizer: Recognizer, *, max_upload_bytes: int = MAX_UPLOAD_BYTES, max_batch: int = 64,
               max_wait_ms: float = 0.0, model_name: str = "") -> FastAPI:
    """The service around ``recognizer``; concurrent requests are read in shared batches."""
    batcher = RequestBatcher(recognizer, max_batch=max_batch, max_wait_ms=max_wait_ms)

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        await batcher.start()
        yield
        await batcher.stop()

    app = FastAPI(title="ocr", description="Read the word in cropped photos with a CRNN.", lifespan=lifespan)
    page = (resources.files("ocr.service") / "page.html").read_text(encoding="utf-8")

    @app.exception_handler(UploadError)
    async def refuse(_, err: UploadError) -> JSONResponse:
        return JSONResponse({"error": str(err)}, status_code=err.status)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def web_page() -> str:
        return page

    @app.get("/health")
    async def health() -> dict:
        """The service is up; which model it reads with."""
        return {"status": "ok", "model": model_name, "backend": recognizer.backend,
                "precision": recognizer.precision,
                "batches_read": batcher.batches_read}

    @app.post("/read")
    async def read(files: list[UploadFile] = File(..., description="one or more images")) -> dict:
        """The reading of each uploaded image, in order: text, confidence, per-character
        confidences and each character's (first, last) time step (step t is centred on column
        4 t of the image resized to height 32). One bad file refuses the request with a 4xx
        naming it."""
        images = [load_upload(recognizer, f, await f.read(max_upload_bytes + 1), max_upload_bytes) for f in files]
        predictions = await batcher.read(images)
        return {"results": [{"file": f.filename, "text": p.text, "confidence": p.confidence,
                             "char_confidences": p.char_confidences, "steps": p.steps}
                            for f, p in zip(files, predictions)]}

    return app


def load_upload(recognizer: Recognizer, upload: UploadFile, data: bytes, max_bytes: int):
    """The uploaded image as ``recognizer`` loads it, or :class:`UploadError` naming the file."""
    name = upload.filename or "<unnamed upload>"
    if len(data) > max_bytes:
        raise UploadError(f"{name}: larger than the {max_bytes / 2**20:g} MB limit (ocr serve --max-upload-mb)", 413)
    try:
        return recognizer.open_image(data, name)
    except ImageLoadError as err:
        raise UploadError(str(err), 415 if isinstance(err, NotAnImageError) else 400) from None
