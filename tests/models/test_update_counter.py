"""The models' update counters (GenerativeModel.register_counter): a buffer for checkpoints and a host
copy read every step, so schedules (EMA warm-up, KL warm-up) never wait for a GPU."""
import torch

from genlab.models.diffusion import DDPM, DDPMConfig
from genlab.models.vae import VAE, VAEConfig

TINY = {"base_width": 8, "width_mults": [1, 2], "norm_groups": 4, "timesteps": 20, "sample_steps": 4,
        "data_shape": [1, 8, 8]}


def test_counting_reads_the_host_copy_not_the_buffer():
    model = DDPM(DDPMConfig(**TINY))
    for _ in range(3):
        model.after_step("model")
    assert model.counted("updates") == 3 and int(model.updates) == 3
    # a buffer that cannot be read (meta): counting and reading the count must not touch it
    model.updates = torch.empty((), dtype=torch.long, device="meta")
    assert model.counted("updates") == 3


def test_a_loaded_state_dict_sets_the_count():
    trained = DDPM(DDPMConfig(**TINY))
    for _ in range(5):
        trained.after_step("model")
    fresh = DDPM(DDPMConfig(**TINY))
    assert fresh.counted("updates") == 0
    fresh.load_state_dict(trained.state_dict())
    assert fresh.counted("updates") == 5
    fresh.after_step("model")
    assert fresh.counted("updates") == 6 and int(fresh.updates) == 6


def test_a_non_persistent_counter_copied_in_after_loading_is_read_once():
    # the trainer loads the model's state dict, then copies its non-persistent buffers (the VAE's count)
    cfg = VAEConfig(data_shape=[1, 8, 8], kl_warmup_steps=10)
    trained, fresh = VAE(cfg), VAE(cfg)
    for _ in range(4):
        trained.after_step("model")
    assert "updates" not in trained.state_dict()
    fresh.after_step("model")  # counted 1 before loading
    fresh.load_state_dict(trained.state_dict())
    with torch.no_grad():
        fresh.updates.copy_(trained.updates)
    assert fresh.counted("updates") == 4
