"""The run layer: run directories composed from the training loop and callbacks.

- ``run.py``: :func:`train`, :func:`resume`, :func:`load`, :func:`read_run_config` (the directory's
  life: creation, lock, clean-up, config file, resume) and :func:`run_callbacks`;
- ``callbacks.py``: metrics.jsonl, sample grids, loss curves, checkpoints, the mode check;
- ``lock.py``, ``metrics_log.py``: the run lock and the metrics file;
- ``monitor.py``: the mode monitor; ``extractors.py``: building feature extractors (a run in the
  cache); ``evaluate.py``: evaluating runs; ``bench.py``: ``genlab bench``.

The CLI calls down into this layer; applications below it (anomaly, apps, metrics, tables) train
in memory with :func:`genlab.training.fit`.
"""
from genlab.runs.evaluate import evaluate_model, evaluate_run
from genlab.runs.extractors import build_extractor
from genlab.runs.run import is_run, load, read_run_config, resume, run_split, train

__all__ = ["build_extractor", "evaluate_model", "evaluate_run", "is_run", "load", "read_run_config", "resume",
           "run_split", "train"]
