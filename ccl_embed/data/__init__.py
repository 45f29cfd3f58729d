"""Corpus formats, concept splits, style augmentation and the builders of the training corpora (image decoding lives in the runtime)."""
