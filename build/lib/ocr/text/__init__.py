"""Text: the charset, CTC decoders, the letter model, metrics. Imports only ocr.assets; no model, no files but its own."""
