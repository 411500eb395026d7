"""Model families. Importing this package registers every model in ``genlab.registry``."""
# importing a model module registers its models
from genlab.models import autoencoder, classifier, diffusion, gan, recurrent, stacked_ae, vae, vaegan  # noqa: F401
from genlab.models.base import GenerativeModel, LatentModel, Phase

__all__ = ["GenerativeModel", "LatentModel", "Phase"]
