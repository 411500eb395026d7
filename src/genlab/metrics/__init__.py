"""Evaluation metrics: reconstruction quality here; sample quality and likelihood alongside."""
from genlab.metrics.recon import mse, psnr, ssim

__all__ = ["mse", "psnr", "ssim"]
