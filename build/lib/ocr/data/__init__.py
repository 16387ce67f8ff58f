"""Data: image loading and resizing, datasets (folders, LMDB, rendered words), renderers, splits.

Imports ocr.text and the leaf modules (ocr.assets, ocr.geometry, ocr.config); no model, no Lightning wiring.
"""
