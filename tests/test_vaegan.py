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
