"""Model families. Importing this package registers every model in ``genlab.registry``."""
from genlab.models import vae  # noqa: F401
from genlab.models import gan  # noqa: F401
from genlab.models import autoencoder  # noqa: F401
from genlab.models import recurrent  # noqa: F401
from genlab.models import classifier  # noqa: F401
from genlab.models import diffusion  # noqa: F401
from genlab.models import vaegan  # noqa: F401
from genlab.models import ctgan  # noqa: F401
from genlab.models import tvae  # noqa: F401
from genlab.models.base import GenerativeModel, LatentModel, Phase

__all__ = ["GenerativeModel", "LatentModel", "Phase"]
