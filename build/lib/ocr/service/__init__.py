"""The HTTP service: ``ocr serve`` (FastAPI on uvicorn), its request batching and web page."""
