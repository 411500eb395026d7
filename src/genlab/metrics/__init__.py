"""Evaluation metrics: reconstruction quality, sample quality on genlab's own feature extractors,
importance-sampled likelihood, and :func:`evaluate_model`, the one entry point that runs them.

Building an extractor and evaluating a run directory train and read runs, so they are the run
layer's: :func:`genlab.runs.extractors.build_extractor`, :func:`genlab.runs.evaluate.evaluate_run`."""
from genlab.metrics.classes import class_coverage, class_kl, inception_score, label_accuracy
from genlab.metrics.evaluate import EvalSettings, evaluate_model, format_result, generate
from genlab.metrics.features import ExtractorRecipe, FeatureExtractor, cached_extractor
from genlab.metrics.fid import (
    feature_statistics,
    frechet_distance,
    frechet_distance_of_features,
    kernel_inception_distance,
)
from genlab.metrics.nll import importance_sampled_log_likelihood, negative_log_likelihood
from genlab.metrics.prdc import density_coverage, precision_recall
from genlab.metrics.recon import mse, psnr, ssim

__all__ = ["EvalSettings", "ExtractorRecipe", "FeatureExtractor", "cached_extractor", "class_coverage", "class_kl",
           "density_coverage", "evaluate_model", "feature_statistics", "format_result",
           "frechet_distance", "frechet_distance_of_features", "generate", "importance_sampled_log_likelihood",
           "inception_score", "kernel_inception_distance", "label_accuracy", "mse", "negative_log_likelihood",
           "precision_recall", "psnr", "ssim"]
