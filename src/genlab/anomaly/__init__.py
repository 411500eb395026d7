"""Anomaly detection with genlab models: fit on normal data, score how unusual new inputs are.

:class:`AnomalyDetector` wraps an autoencoder, VAE or GAN for images, an MLP autoencoder for
tables (:mod:`genlab.anomaly.tables`: CSV with numeric and categorical columns) and the recurrent
autoencoder for time series; :mod:`genlab.anomaly.scores` lists the scores.
"""
from genlab.anomaly.detector import AnomalyDetector, DetectorConfig
from genlab.anomaly.scores import SCORES, item_scores
from genlab.anomaly.state import FittedState
from genlab.anomaly.tables import Table, TableEncoder, as_table, read_table

__all__ = ["AnomalyDetector", "DetectorConfig", "FittedState", "SCORES", "Table", "TableEncoder", "as_table",
           "item_scores", "read_table"]
