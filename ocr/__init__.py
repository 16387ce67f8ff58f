"""ocr: scene-text recognition with a CRNN (CNN -> stacked bidirectional RNN -> CTC)."""
from ocr.checkpoint import CheckpointError
from ocr.data.transforms import ImageLoadError
from ocr.decoding import Prediction
from ocr.recognizer import Recognizer

__all__ = ["CheckpointError", "ImageLoadError", "Prediction", "Recognizer"]
