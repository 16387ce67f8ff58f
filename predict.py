"""Read the word in each image: python predict.py IMG|DIR|GLOB [...] [--checkpoint X.ckpt] (= ocr predict)."""
import sys

from ocr.reading.commands import predict_main

if __name__ == "__main__":
    sys.exit(predict_main())
