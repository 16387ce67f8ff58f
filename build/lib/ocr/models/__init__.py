"""Plain nn.Modules: no Lightning, no files. Imports only ocr.geometry."""
from ocr.models.crnn import CRNN, build_model

__all__ = ["CRNN", "build_model"]
