"""Model families. Importing this package registers every model in ``genlab.registry``."""
# importing a model module registers its models
from genlab.models import (  # noqa: F401
    autoencoder,
    classifier,
    ctgan,
    cyclegan,
    diffusion,
    gan,
    progan,
    recurrent,
    recurrent_vae,
    score,
    srgan,
    stacked_ae,
    stylegan,
    translation,
    tvae,
    vae,
    vaegan,
    video,
    video_diffusion,
)
from genlab.models.base import GenerativeModel, LatentModel, Phase

__all__ = ["GenerativeModel", "LatentModel", "Phase"]
