"""Synthetic tables: the reversible transformer, the Synthesizer (ctgan / tvae) and the report.

An application layer like :mod:`genlab.anomaly`: it trains through the training layer and is
imported by nothing below it. Needs pandas (the ``tables`` extra).
"""
from genlab.tables.synthesizer import SynthConfig, Synthesizer
from genlab.tables.transformer import TableTransformer

__all__ = ["SynthConfig", "Synthesizer", "TableTransformer"]
