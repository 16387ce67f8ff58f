"""``ocr serve``: the HTTP API and web page on uvicorn (loopback by default)."""
from __future__ import annotations

import argparse

import uvicorn

from ocr.assets import DEFAULT_MODEL
from ocr.reading.cli import ShowDefaults, add_model_arguments, load_recognizer
from ocr.service.app import MAX_UPLOAD_BYTES, create_app


def main() -> None:
    """Serve the model given by the arguments until interrupted."""
    parser = argparse.ArgumentParser(description="Serve the recognizer over HTTP: POST /read, GET /health, "
                                                 "a web page at /, the OpenAPI page at /docs.",
                                     formatter_class=ShowDefaults)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0: every interface)")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--max-upload-mb", type=float, default=MAX_UPLOAD_BYTES / 2**20,
                        help="largest image accepted, in MB (a larger one gets 413)")
    parser.add_argument("--max-wait-ms", type=float, default=0.0,
                        help="how long a batch waits for concurrent requests' images after its first")
    add_model_arguments(parser)
    args = parser.parse_args()
    recognizer = load_recognizer(args)
    app = create_app(recognizer, max_upload_bytes=int(args.max_upload_mb * 2**20), max_batch=args.batch_size,
                     max_wait_ms=args.max_wait_ms, model_name=str(args.checkpoint or DEFAULT_MODEL))
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")
