"""Recurrent sequence-to-sequence autoencoder (LSTM or GRU), after Srivastava et al. 2015.

    encoder RNN over x_1..x_T  ->  last hidden state  ->  code z = W h_T            (B, D)
    decoder: initial state from z, input z at every step  ->  x_hat_1..x_hat_T        (B, T, F)

The decoder sees only the code (no teacher forcing), so it reconstructs the same way in training
and at test time and all information must pass through z.

Data: sequences (N, T, F) of standardized values, with NaN marking padding after the end of a
shorter sequence (``genlab.data.sequences``). The encoder packs each batch by its lengths, so its
code is read at each sequence's own last step; the loss is the mean squared error over valid
steps only. Images (C, H, W) are read as sequences of rows (T = H, F = C * W) with a Bernoulli
(binary cross-entropy) loss, so the model also runs on every image dataset and returns images in
[0, 1] there.

``sample`` decodes codes from a Gaussian fitted to the training codes (as the deterministic
autoencoders do); for sequence data it returns standardized sequences (N, T, F), not images.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from genlab.config import check_sizes
from genlab.models.base import Batch, Losses
from genlab.models.parts import CodeStatistics, FittedCodeModel
from genlab.registry import register

CELLS = {"lstm": nn.LSTM, "gru": nn.GRU}


@dataclass
class RecurrentAEConfig:
    """Configuration of :class:`RecurrentAE` (``recurrent-ae``).

    Attributes:
        data_shape: (T, F) of the sequences, or (C, H, W) of images read row by row; filled from
            the dataset at training time.
        latent_dim: size of the code z.
        cell: 'lstm' or 'gru'.
        hidden_size: units per recurrent layer (encoder and decoder).
        num_layers: stacked recurrent layers in the encoder and in the decoder.
        rnn_dropout: dropout between stacked recurrent layers (needs num_layers > 1).
    """

    data_shape: tuple[int, ...] = (32, 1)
    latent_dim: int = 16
    cell: Literal["lstm", "gru"] = "lstm"
    hidden_size: int = 64
    num_layers: int = 1
    rnn_dropout: float = 0.0

    def __post_init__(self) -> None:
        if len(self.data_shape) not in (2, 3) or min(self.data_shape) < 1:
            raise ValueError(f"data_shape must be (T, F) sequences or (C, H, W) images, got {tuple(self.data_shape)}")
        for name, value in (("latent_dim", self.latent_dim), ("hidden_size", self.hidden_size),
                            ("num_layers", self.num_layers)):
            if value < 1:
                raise ValueError(f"{name} must be positive, got {value}")
        check_sizes("latent_dim", self.latent_dim)
        check_sizes("hidden_size", self.hidden_size)
        check_sizes("num_layers", self.num_layers, maximum=64)
        if not 0 <= self.rnn_dropout < 1:
            raise ValueError(f"rnn_dropout must be in [0, 1), got {self.rnn_dropout}")


@register("recurrent-ae", RecurrentAEConfig, "recurrent (LSTM/GRU) seq2seq autoencoder for time series and sequences")
class RecurrentAE(FittedCodeModel):
    """LSTM/GRU encoder -> code -> LSTM/GRU decoder; see the module docstring."""

    config: RecurrentAEConfig
    data_kinds = ("sequences", "images")  # images are read as sequences of rows
    export_parts = ("sample", "decoder")  # the decoder unrolls for the run's T steps: no packing, a fixed graph
    export_refusals = {"encoder": "its LSTM/GRU packs sequences of different lengths (NaN padding) by their length "
                                  "(data-dependent control flow), which neither an ONNX graph nor a traced "
                                  "TorchScript module keeps"}

    def __init__(self, config: RecurrentAEConfig):
        super().__init__(config)
        self.images = len(config.data_shape) == 3
        if self.images:
            c, h, w = config.data_shape
            self.steps, self.features = h, c * w
        else:
            self.steps, self.features = config.data_shape
        cell, hid, layers = CELLS[config.cell], config.hidden_size, config.num_layers
        drop = config.rnn_dropout if layers > 1 else 0.0
        self.encoder = cell(self.features, hid, layers, batch_first=True, dropout=drop)
        self.to_code = nn.Linear(hid, config.latent_dim)
        states = 2 if config.cell == "lstm" else 1  # LSTM: hidden and cell state
        self.from_code = nn.Linear(config.latent_dim, states * layers * hid)
        self.decoder = cell(config.latent_dim, hid, layers, batch_first=True, dropout=drop)
        self.readout = nn.Linear(hid, self.features)
        self.code_stats = CodeStatistics(config.latent_dim)

    # --- layout ---------------------------------------------------------------------------------
    def as_sequence(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Data -> (sequences (B, T, F) with padding zeroed, valid mask (B, T) bool)."""
        if self.images:  # (B, C, H, W) -> rows (B, H, C * W)
            seq = x.permute(0, 2, 1, 3).reshape(x.shape[0], self.steps, self.features)
            return seq, torch.ones(seq.shape[:2], dtype=torch.bool, device=x.device)
        valid = ~torch.isnan(x).any(-1)  # (B, T)
        return torch.nan_to_num(x, nan=0.0), valid

    def from_sequence(self, seq: torch.Tensor) -> torch.Tensor:
        """Decoder outputs (B, T, F) -> the data layout ((B, C, H, W) for images)."""
        if self.images:
            c, h, w = self.config.data_shape
            return seq.reshape(seq.shape[0], h, c, w).permute(0, 2, 1, 3)
        return seq

    # --- the model ------------------------------------------------------------------------------
    def encode_sequence(self, seq: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """Code from the top layer's hidden state at each sequence's last valid step: (B, D)."""
        return self.to_code(self.last_state(seq, valid)).float()

    def last_state(self, seq: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """The top layer's hidden state at each sequence's last valid step: (B, hidden_size)."""
        seq = seq.float()
        with torch.autocast(device_type=seq.device.type, enabled=False):  # bf16 RNNs are >10x slower on CPU
            if bool(valid.all()):  # equal lengths: no packing needed
                _, state = self.encoder(seq)
            else:
                lengths = valid.sum(1).clamp_min(1).cpu()
                _, state = self.encoder(pack_padded_sequence(seq, lengths, batch_first=True, enforce_sorted=False))
        h_n = state[0] if isinstance(state, tuple) else state  # (layers, B, H)
        return h_n[-1].float()

    def decoder_output(self, z: torch.Tensor, steps: int | None = None) -> torch.Tensor:
        """Unbounded outputs (B, T, F): logits for images, standardized values for sequences
        (``steps``: unroll the decoder for that many steps instead of the training length T)."""
        b, cfg = z.shape[0], self.config
        steps = steps or self.steps
        init = self.from_code(z).view(b, -1, cfg.num_layers, cfg.hidden_size).permute(1, 2, 0, 3)  # (S, L, B, H)
        init = init.contiguous()
        state = (init[0], init[1]) if cfg.cell == "lstm" else init[0]
        with torch.autocast(device_type=z.device.type, enabled=False):
            state = tuple(s.float() for s in state) if isinstance(state, tuple) else state.float()
            out, _ = self.decoder(z.float()[:, None, :].expand(b, steps, -1).contiguous(), state)  # (B, T, H)
        return self.readout(out).float()

    def losses(self, batch: Batch, phase: str = "model") -> Losses:
        seq, valid = self.as_sequence(batch.x)  # (B, T, F), (B, T)
        z = self.encode_sequence(seq, valid)  # (B, D)
        out = self.decoder_output(z)  # (B, T, F)
        mask = valid[..., None].expand_as(out).float()
        if self.images:  # Bernoulli likelihood of the pixels, summed per image
            rec = (F.binary_cross_entropy_with_logits(out, seq.float(), reduction="none") * mask).sum((1, 2)).mean()
            mse = ((torch.sigmoid(out) - seq.float()).pow(2) * mask).sum() / mask.sum()
        else:  # squared error per valid value, averaged
            rec = mse = ((out - seq.float()).pow(2) * mask).sum() / mask.sum().clamp_min(1)
        if self.training and torch.is_grad_enabled():
            self.code_stats.update(z)
        return {"loss": rec, "rec": rec.detach(), "mse": mse.detach()}

    # --- the LatentModel interface ------------------------------------------------------------
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Codes (B, D) of images or (padded) sequences."""
        return self.encode_sequence(*self.as_sequence(x))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Images in [0, 1] (B, C, H, W), or standardized sequences (B, T, F) of full length."""
        out = self.decoder_output(z)
        return self.from_sequence(torch.sigmoid(out) if self.images else out)

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """decode(encode(x)), with a sequence's padding kept as NaN (``labels`` are not used)."""
        rec = self.decode(self.encode(x))
        return rec if self.images else rec.masked_fill(torch.isnan(x), float("nan"))

