"""Applications built on trained models (denoising, compression, embeddings, ...).

Each module holds plain functions that take a model and tensors, so the CLI and Python users call
the same code.
"""
