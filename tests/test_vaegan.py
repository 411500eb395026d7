"""VAE-GAN: which parameters each loss reaches (by gradients), and training end to end."""
import pytest
import torch

import genlab
from genlab.config import DataConfig, TrainConfig
from genlab.data import load_splits
from genlab.errors import ConfigError
from genlab.models.base import Batch
from genlab.models.vaegan import VAEGAN, VAEGANConfig
from genlab.training.trainer import Trainer

SMALL = dict(data_shape=(1, 8, 8), latent_dim=3, conv_widths=(8,), conv_hidden=16, disc_widths=(8, 16))


def _grads(model, phase, batch):
    model.zero_grad(set_to_none=True)
    model.losses(batch, phase)["loss"].backward()
    return {name: p.grad is not None and bool(p.grad.abs().sum() > 0)
            for name, p in model.named_parameters()}


def _reached(grads, prefix):
    return [k for k, v in grads.items() if k.startswith(prefix) and v]


def test_each_loss_reaches_what_the_paper_says():
    torch.manual_seed(0)
    model = VAEGAN(VAEGANConfig(**SMALL, feature_layer=1))
    batch = Batch(torch.rand(6, 1, 8, 8).round())
    d = _grads(model, "discriminator", batch)
    assert _reached(d, "discriminator.") and not _reached(d, "encoder.") and not _reached(d, "decoder.")
    e = _grads(model, "encoder", batch)
    assert _reached(e, "encoder.")
    # the encoder's loss is L_prior + L_llike: no GAN term, so the discriminator's logit head gets nothing
    assert not _reached(e, "discriminator.head")
    g = _grads(model, "decoder", batch)
    assert _reached(g, "decoder.")
    assert not _reached(g, "encoder.")  # the GAN loss does not reach the encoder


def test_feature_nll_by_hand():
    model = VAEGAN(VAEGANConfig(**SMALL))
    a, b = torch.tensor([[1.0, 2.0, 3.0]]), torch.tensor([[0.0, 2.0, 5.0]])
    assert model.feature_nll(a, b).item() == pytest.approx(0.5 * (1 + 0 + 4))


def test_phases_share_one_batch_and_train():
    splits = load_splits(DataConfig("digits"))
    torch.manual_seed(0)
    model = genlab.registry.build("vaegan", {**SMALL, "data_shape": [1, 8, 8]})
    trainer = Trainer(model, splits, TrainConfig(steps=3, batch_size=32, device="cpu"))
    assert trainer.batches_per_round == 1  # discriminator draws; encoder and decoder reuse its batch
    before = {k: v.clone() for k, v in model.state_dict().items()}
    trainer.fit()
    for prefix in ("encoder.", "decoder.", "discriminator."):
        assert any(not torch.equal(before[k], v) for k, v in model.state_dict().items() if k.startswith(prefix))


def test_bad_feature_layer_is_refused():
    with pytest.raises(ConfigError, match="feature_layer must be between 1 and 2"):
        genlab.registry.build("vaegan", {"feature_layer": 3})


def test_equilibrium_rule_drops_the_winning_or_losing_side():
    torch.manual_seed(0)
    model = VAEGAN(VAEGANConfig(**SMALL, equilibrium=0.68, equilibrium_margin=0.35))
    batch = Batch(torch.rand(6, 1, 8, 8))
    model.d_bce.fill_(0.1)  # the discriminator is winning: its update is dropped
    out = model.losses(batch, "discriminator")
    assert float(out["loss"]) == 0.0 and float(out["d_trained"]) == 0.0
    model.d_bce.fill_(2.0)  # it is losing: the decoder gets no GAN term, only gamma * feature NLL
    out = model.losses(batch, "decoder")
    assert float(out["gan"]) == 0.0
    assert float(out["loss"]) == pytest.approx(model.config.gamma * float(out["feature_nll"]), rel=1e-5)
    model.d_bce.fill_(0.69)  # near chance: both sides train
    assert float(model.losses(batch, "discriminator")["d_trained"]) == 1.0
    assert float(model.losses(batch, "decoder")["gan"]) > 0
    with pytest.raises(ValueError, match="equilibrium"):
        VAEGANConfig(**SMALL, equilibrium=-1.0)


def test_pixel_weight_adds_the_vaes_pixel_nll_to_encoder_and_decoder():
    batch = Batch(torch.rand(6, 1, 8, 8))
    out = {}
    for w in (0.0, 2.0):
        torch.manual_seed(0)
        model = VAEGAN(VAEGANConfig(**SMALL, pixel_weight=w))
        out[w] = {phase: model.losses(batch, phase) for phase in ("encoder", "decoder")}
    for phase in ("encoder", "decoder"):
        pixel = float(out[2.0][phase]["pixel_nll"])
        assert pixel > 0
        # same seed, same codes: the hybrid's loss is the pure one plus 2 x the pixel NLL
        assert float(out[2.0][phase]["loss"]) == pytest.approx(float(out[0.0][phase]["loss"]) + 2 * pixel, rel=1e-5)
    # the pixel NLL is the VAE's reconstruction term (Bernoulli, summed over pixels)
    torch.manual_seed(1)
    model = VAEGAN(VAEGANConfig(**SMALL, pixel_weight=1.0))
    z = torch.randn(6, 3)
    rec, pixel = model._pixel_nll(batch.x, z)
    assert torch.allclose(pixel, model.reconstruction_nll(model.decoder_output(z), batch.x))
    assert torch.allclose(rec, model.decode(z))


@pytest.mark.parametrize("fakes, keys", [("prior", {"d_prior"}), ("recon", {"d_rec"}), ("both", {"d_rec", "d_prior"})])
def test_gan_fakes_choose_what_the_discriminator_sees(fakes, keys):
    torch.manual_seed(0)
    model = VAEGAN(VAEGANConfig(**SMALL, gan_fakes=fakes))
    out = model.losses(Batch(torch.rand(6, 1, 8, 8)), "discriminator")
    assert {k for k in out if k in ("d_rec", "d_prior")} == keys
    g = _grads(model, "decoder", Batch(torch.rand(6, 1, 8, 8)))
    assert _reached(g, "decoder.")


def test_gan_fakes_bad_value_is_refused_through_the_cli(capsys):
    from genlab.cli import main
    assert main(["train", "vaegan", "--dataset", "digits", "--gan-fakes", "nope", "--steps", "1",
                 "--out", "/tmp/unused-vaegan"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("genlab: error:") and "gan" in err.lower()


def test_vae_warmup_trains_the_vae_part_alone_then_the_gan_starts():
    torch.manual_seed(0)
    model = VAEGAN(VAEGANConfig(**SMALL, vae_warmup_steps=2))
    batch = Batch(torch.rand(6, 1, 8, 8))
    d = _grads(model, "discriminator", batch)
    assert not any(d.values())  # no discriminator gradient during warm-up
    assert float(model.losses(batch, "decoder")["gan"]) == 0.0
    model.after_step("encoder")
    model.after_step("encoder")  # two encoder updates: the warm-up is over
    assert _reached(_grads(model, "discriminator", batch), "discriminator.")
    assert float(model.losses(batch, "decoder")["gan"]) > 0


def test_disc_spectral_norm_bounds_every_weight():
    torch.manual_seed(0)
    model = VAEGAN(VAEGANConfig(**SMALL, disc_spectral_norm=True))
    model.train()
    for _ in range(30):  # power iterations converge
        model.discriminator(torch.rand(4, 1, 8, 8))
    layers = [m for m in model.discriminator.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    assert len(layers) >= 2 and all(hasattr(m, "parametrizations") for m in layers)  # every conv and the head
    for m in layers:
        assert torch.linalg.matrix_norm(m.weight.detach().flatten(1), ord=2) == pytest.approx(1.0, abs=0.05)
    plain = VAEGAN(VAEGANConfig(**SMALL))
    assert not any("parametrizations" in k for k in plain.state_dict())


def test_autoencoder_lr_sets_encoder_and_decoder_phases_only():
    model = VAEGAN(VAEGANConfig(**SMALL, adversarial_lr=2e-4, autoencoder_lr=5e-4))
    lrs = {p.name: p.optimizer.lr for p in model.phases()}
    assert lrs == {"discriminator": 2e-4, "encoder": 5e-4, "decoder": 5e-4}
    with pytest.raises(ValueError, match="autoencoder_lr"):
        VAEGANConfig(**SMALL, autoencoder_lr=0.0)


def test_ema_decoder_samples_and_follows_the_decoder():
    torch.manual_seed(0)
    model = VAEGAN(VAEGANConfig(**SMALL, ema_decay=0.5))
    assert VAEGAN(VAEGANConfig(**SMALL)).ema_decoder is None
    noise = torch.randn(4, 3)
    assert torch.allclose(model.sample_from_noise(noise), model.decode(noise))  # a copy at the start
    before = [p.clone() for p in model.ema_decoder.parameters()]
    with torch.no_grad():
        for p in model.decoder.parameters():
            p.add_(1.0)
    for _ in range(100):  # past the EMA warm-up: the decay is 0.5
        model.count("updates")
    model.after_step("decoder")
    for b, a, p in zip(before, model.ema_decoder.parameters(), model.decoder.parameters(), strict=True):
        assert torch.allclose(a, 0.5 * b + 0.5 * p)
    assert model.sample(3).shape == (3, 1, 8, 8)
    assert not torch.allclose(model.sample_from_noise(noise), model.decode(noise))
    with pytest.raises(ValueError, match="ema_decay"):
        VAEGANConfig(**SMALL, ema_decay=1.0)
