"""Data: image loading and preprocessing, datasets, synthetic words, the DataModule."""
