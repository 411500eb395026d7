"""Training engine: the generic trainer, checkpoints, distribution, logging, run directories."""
