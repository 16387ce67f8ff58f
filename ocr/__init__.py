"""ocr: scene-text recognition with a CRNN (CNN -> stacked bidirectional RNN -> CTC)."""
from ocr.data.transforms import ImageLoadError
from ocr.reading.loaded import CheckpointError
from ocr.reading.recognizer import Recognizer
from ocr.text.decoding import Prediction

__all__ = ["CheckpointError", "ImageLoadError", "Prediction", "Recognizer"]
