"""Reading images with a trained model: Recognizer, backends, export, quantisation, word gaps, slimming, scoring.

Imports ocr.text, ocr.models, ocr.data and the leaf modules; never ocr.train (no Lightning, no Hydra wiring).
"""
