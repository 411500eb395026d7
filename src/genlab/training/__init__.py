"""The training loop and nothing else: phases, precision, distribution, checkpoint state, stop
conditions and callbacks (``trainer.py``, ``callbacks.py``, ``checkpoint.py``, ``distributed.py``),
and :func:`fit`, training in memory. Run directories live one layer up, in :mod:`genlab.runs`."""
from genlab.training.callbacks import Callback, ConsoleLine, ProgressBar, console_callbacks
from genlab.training.in_memory import build_model, data_fields, fit, model_config
from genlab.training.trainer import EpochRecord, StopSignals, Trainer

__all__ = ["Callback", "ConsoleLine", "EpochRecord", "ProgressBar", "StopSignals", "Trainer", "build_model",
           "console_callbacks", "data_fields", "fit", "model_config"]
