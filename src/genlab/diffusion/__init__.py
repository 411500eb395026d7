"""Gaussian diffusion, apart from any network: noise schedules and reverse-process samplers."""
from genlab.diffusion.samplers import SAMPLERS, DDIMSampler, DDPMSampler, Sampler, sample_loop
from genlab.diffusion.schedules import BETA_SCHEDULES, PREDICTIONS, NoiseSchedule, cosine_betas, linear_betas
from genlab.diffusion.sde import SDE, SDES, VESDE, VPSDE

__all__ = ["BETA_SCHEDULES", "DDIMSampler", "DDPMSampler", "NoiseSchedule", "PREDICTIONS", "SAMPLERS", "Sampler",
           "cosine_betas", "linear_betas", "sample_loop", "SDE", "SDES", "VESDE", "VPSDE"]
