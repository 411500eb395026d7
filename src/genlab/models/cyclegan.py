"""CycleGAN (Zhu et al. 2017): unpaired translation A <-> B with cycle consistency.

Two generators G: A -> B and F: B -> A (ResNet blocks by default, the U-Net as an option) and two
PatchGAN discriminators D_A (real A vs F(b)) and D_B (real B vs G(a)). One round, on one batch:

    generators:       minimize  L_G(D_B(G(a))) + L_G(D_A(F(b)))                      (eq. 1, both ways)
                              + lambda (|F(G(a)) - a|_1 + |G(F(b)) - b|_1)            (eq. 2, cycle)
                              + identity * lambda (|G(b) - b|_1 + |F(a) - a|_1)        (sec. 5.2)
    discriminator_a:  minimize  1/2 L_D(D_A(a), D_A(pool_A(F(b))))
    discriminator_b:  minimize  1/2 L_D(D_B(b), D_B(pool_B(G(a))))

with the least-squares loss pair (sec. 4), lambda = 10, identity = 0.5 (so 0.5 * lambda), Adam
2e-4 (0.5, 0.999) and history pools of 50 generated images per discriminator (sec. 4). The paper's
"constant, then linearly to zero" learning rate is ``--schedule decay``. The generators are
updated together and each discriminator on its own; the discriminator phases reuse the round's
batch (``fresh_batch=False``), so an epoch is one pass over the data as in the paper. Identity
terms need A and B with the same channels (the weight must be 0 otherwise).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

import torch
import torch.nn.functional as F

from genlab.config import check_range
from genlab.errors import ConfigError
from genlab.models.base import Batch, Losses, Phase
from genlab.models.gan import LossName
from genlab.models.translation import HistoryPool, ImageTranslator, PatchGANTranslatorConfig, TranslationNorm
from genlab.nn.translation import PatchGAN, ResnetGenerator, UNetGenerator
from genlab.registry import register


@dataclass
class CycleGANConfig(PatchGANTranslatorConfig):
    """Configuration of :class:`CycleGAN` (Zhu et al. 2017); the generator and PatchGAN fields are
    :class:`PatchGANTranslatorConfig`'s (here with instance norm, as in the paper).

    Attributes:
        generator: 'resnet' (the paper's) or 'unet' (g_depth levels).
        n_blocks: residual blocks of a ResNet generator (9 at 256 px, 6 at 128 px).
        cycle_weight: lambda of the cycle-consistency L1 terms (10).
        identity_weight: the identity terms' weight as a fraction of lambda (0.5; 0 = off).
        pool_size: generated images each discriminator's history pool holds (50; 0 = no pool).
    """

    loss: LossName = "least_squares"
    d_norm: TranslationNorm = "instance"
    g_norm: TranslationNorm = "instance"
    generator: Literal["resnet", "unet"] = "resnet"
    n_blocks: int = 9
    cycle_weight: float = 10.0
    identity_weight: float = 0.5
    pool_size: int = 50

    def __post_init__(self) -> None:
        super().__post_init__()
        check_range("n_blocks", self.n_blocks, 0)
        check_range("cycle_weight", self.cycle_weight, 0)
        check_range("identity_weight", self.identity_weight, 0)
        check_range("pool_size", self.pool_size, 0, 100_000)


def cycle_losses(a: torch.Tensor, b: torch.Tensor, rec_a: torch.Tensor, rec_b: torch.Tensor) -> torch.Tensor:
    """|F(G(a)) - a|_1 + |G(F(b)) - b|_1, each the mean absolute error (eq. 2)."""
    return F.l1_loss(rec_a.float(), a.float()) + F.l1_loss(rec_b.float(), b.float())


@register("cyclegan", CycleGANConfig, "CycleGAN: two ResNet generators + two PatchGANs, LSGAN, cycle 10, "
                                      "identity 5, history pool 50")
class CycleGAN(ImageTranslator):
    """Unpaired translation A <-> B; see the module docstring. Paired data is taken too (pairs ignored)."""

    config: CycleGANConfig
    data_kinds = ("unpaired", "pairs")
    generators: ClassVar[dict[str, str]] = {"AB": "g_ab", "BA": "g_ba"}

    def __init__(self, config: CycleGANConfig):
        super().__init__(config)
        if config.pair_scale != 1:
            raise ConfigError(f"cyclegan translates images of one size, and this dataset's B images are "
                              f"{config.pair_scale}x its A images")
        ca, cb, size = self.a_shape[0], self.b_shape[0], min(self.b_shape[1:])
        if config.identity_weight > 0 and ca != cb:
            raise ConfigError(f"the identity loss needs A and B with the same channels (A has {ca}, B {cb}): "
                              f"pass --identity-weight 0")

        def generator(c_in: int, c_out: int) -> torch.nn.Module:
            if config.generator == "unet":
                return UNetGenerator(c_in, c_out, size, config.g_width, config.g_depth, config.g_norm, dropout=0.0)
            return ResnetGenerator(c_in, c_out, size, config.g_width, config.n_blocks, config.g_norm)

        self.g_ab, self.g_ba = generator(ca, cb), generator(cb, ca)
        self.discriminator_a = PatchGAN(ca, size, config.d_width, config.n_layers, config.d_norm)
        self.discriminator_b = PatchGAN(cb, size, config.d_width, config.n_layers, config.d_norm)
        self.pool_a = HistoryPool(config.pool_size, self.a_shape)
        self.pool_b = HistoryPool(config.pool_size, self.b_shape)
        self._setup_networks()

    def discriminator_names(self) -> list[str]:
        return ["discriminator_a", "discriminator_b"]

    def phases(self) -> list[Phase]:
        opt = self.optimizer()
        return [Phase("generators", ("g_ab", "g_ba"), 1, opt),
                Phase("discriminator_a", ("discriminator_a",), 1, opt, fresh_batch=False),
                Phase("discriminator_b", ("discriminator_b",), 1, opt, fresh_batch=False)]

    def generator_losses(self, a: torch.Tensor, b: torch.Tensor) -> Losses:
        cfg = self.config
        fake_b, fake_a = self.g_ab(a), self.g_ba(b)
        adv = self.pair.generator(self.discriminator_b(fake_b).flatten()) + \
            self.pair.generator(self.discriminator_a(fake_a).flatten())
        cycle = cycle_losses(a, b, self.g_ba(fake_b), self.g_ab(fake_a))
        loss = adv + cfg.cycle_weight * cycle
        logs: Losses = {"adversarial": adv.detach(), "cycle": cycle.detach()}
        if cfg.identity_weight > 0:
            identity = F.l1_loss(self.g_ab(b).float(), b.float()) + F.l1_loss(self.g_ba(a).float(), a.float())
            loss = loss + cfg.identity_weight * cfg.cycle_weight * identity
            logs["identity"] = identity.detach()
        return {"loss": loss, **logs}

    def losses(self, batch: Batch, phase: str = "generators") -> Losses:
        a, b = self.split(batch)  # (B, Ca, H, W), (B, Cb, H, W) in [-1, 1]
        if phase == "generators":
            return self.generator_losses(a, b)
        if phase == "discriminator_a":
            with torch.no_grad():
                fake = self.pool_a.query(self.g_ba(b)) if self.training else self.g_ba(b)  # no pool in evaluation
            return self.adversarial_d_loss(self.discriminator_a, a, fake.to(a.dtype))
        if phase == "discriminator_b":
            with torch.no_grad():
                fake = self.pool_b.query(self.g_ab(a)) if self.training else self.g_ab(a)
            return self.adversarial_d_loss(self.discriminator_b, b, fake.to(b.dtype))
        raise ValueError(f"unknown phase '{phase}' (generators, discriminator_a or discriminator_b)")


    def grid_columns(self, a: torch.Tensor, b: torch.Tensor) -> list[torch.Tensor]:
        """input A | translation A -> B | cycle reconstruction B -> A."""
        fake = self.translate(a, "AB")
        return [a, fake, self.translate(fake, "BA")]

    @torch.no_grad()
    def cycle(self, x: torch.Tensor, direction: str = "AB") -> torch.Tensor:
        """The round trip of images in [0, 1]: F(G(x)) for 'AB', G(F(x)) for 'BA', in [0, 1]."""
        there = self.translate(x, direction)
        return self.translate(there, "BA" if direction == "AB" else "AB")
