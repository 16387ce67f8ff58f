"""Plain nn.Modules: no Lightning, no files."""
from ocr.models.backbone import num_frames
from ocr.models.crnn import CRNN, build_model

__all__ = ["CRNN", "build_model", "num_frames"]
