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
    score,
    srgan,
    stacked_ae,
    stylegan,
    translation,
    tvae,
    vae,
    vaegan,
)
from genlab.models.base import GenerativeModel, LatentModel, Phase

__all__ = ["GenerativeModel", "LatentModel", "Phase"]
