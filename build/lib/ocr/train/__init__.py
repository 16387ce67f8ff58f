"""Training: the LightningModule, losses, the DataModule, Trainer wiring, checkpoint I/O, run log, diagnostics.

May import every other ocr package; none imports it.
"""
