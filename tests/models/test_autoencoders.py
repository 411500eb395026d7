"""The autoencoder family: penalties against hand-computed values, the exact Jacobian against
autograd, corruption, the stacked AE's stages and exact resume, and CLI refusals."""
import math

import pytest
import torch
from torch import nn

import genlab
from genlab import registry
from genlab.cli import main
from genlab.config import from_dict
from genlab.errors import ConfigError
from genlab.models.autoencoder import corrupt, sparsity_kl
from genlab.models.base import Batch
from genlab.models.parts import CodeStatistics
from genlab.models.stacked_ae import StackedAEConfig
from genlab.nn.jacobian import encoder_jacobian

AE_NAMES = ["ae", "denoising-ae", "sparse-ae", "contractive-ae", "conv-ae", "stacked-ae"]
TINY = {"latent_dim": 4, "mlp_hidden": [16], "conv_widths": [4], "conv_hidden": 8}
QUICK = {"steps": 4, "batch_size": 32, "device": "cpu", "log_every": 0, "num_samples": 4, "seed": 1}


def _error(capsys, argv):
    code = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("genlab: error: "), err
    return err[0]


def test_overcomplete_without_regularizer_is_refused(capsys):
    line = _error(capsys, ["train", "ae", "--dataset", "digits", "--latent-dim", "100", "--steps", "1"])
    assert "overcomplete" in line and "64 values" in line
    with pytest.raises(ConfigError, match="overcomplete"):
        from_dict(StackedAEConfig, {"data_shape": [1, 8, 8], "latent_dim": 65})
    with pytest.raises(ConfigError, match="overcomplete"):  # a zero weight is no regularizer
        registry.build("sparse-ae", {"data_shape": [1, 8, 8], "latent_dim": 100, "sparsity_weight": 0})
    for name, reg in [("sparse-ae", {}), ("denoising-ae", {}), ("contractive-ae", {"mlp_hidden": [16]})]:
        model = registry.build(name, {"data_shape": [1, 8, 8], "latent_dim": 100, **reg})
        assert model.encode(torch.rand(2, 1, 8, 8)).shape == (2, 100)


def test_bad_variant_configs_are_one_line_errors(capsys):
    # 'none' is a code activation (not None): the refusal is the kl rule, not "None is not one of ..."
    line = _error(capsys, ["train", "sparse-ae", "--dataset", "digits", "--code-activation", "none"])
    assert "sparsity 'kl'" in line and "code_activation 'sigmoid'" in line and "not one of" not in line
    # --help offers only the architecture each model accepts
    assert "invalid choice: 'conv' (choose from 'mlp')" in _error(
        capsys, ["train", "contractive-ae", "--dataset", "digits", "--architecture", "conv"])
    assert "invalid choice: 'mlp' (choose from 'conv')" in _error(
        capsys, ["train", "conv-ae", "--dataset", "digits", "--architecture", "mlp"])
    assert "noise_level" in _error(capsys, ["train", "denoising-ae", "--dataset", "digits", "--noise", "masking",
                                            "--noise-level", "1.5"])


def test_corruptions():
    x = torch.full((2000, 1, 4, 4), 0.5)
    g = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    assert torch.equal(corrupt(x, "gaussian", 0.0), x)
    noisy = corrupt(x, "gaussian", 0.1, g())
    assert noisy.min() >= 0 and noisy.max() <= 1 and abs(float((noisy - x).std()) - 0.1) < 0.005
    assert torch.equal(noisy, corrupt(x, "gaussian", 0.1, g()))  # reproducible with a generator
    masked = corrupt(x, "masking", 0.3, g())
    assert set(masked.unique().tolist()) == {0.0, 0.5} and abs(float((masked == 0).float().mean()) - 0.3) < 0.01
    sp = corrupt(x, "salt_pepper", 0.2, g())
    hit = sp != 0.5
    assert set(sp[hit].unique().tolist()) == {0.0, 1.0} and abs(float(hit.float().mean()) - 0.2) < 0.01
    assert abs(float((sp[hit] == 1).float().mean()) - 0.5) < 0.03


def test_denoising_ae_corrupts_only_in_training():
    model = registry.build("denoising-ae", {"data_shape": [1, 8, 8], **TINY, "noise": "masking", "noise_level": 0.9})
    x = torch.rand(8, 1, 8, 8)
    torch.manual_seed(0)
    clean = model.eval().losses(Batch(x))["loss"]
    assert torch.equal(clean, model.losses(Batch(x))["loss"])  # eval: no noise, deterministic
    assert not torch.equal(clean, model.train().losses(Batch(x))["loss"])


def test_sparsity_kl_matches_hand_value():
    # 0.1 log(0.1/0.5) + 0.9 log(0.9/0.5) = 0.368064...
    assert float(sparsity_kl(0.1, torch.tensor([0.5]))) == pytest.approx(0.1 * math.log(0.2) + 0.9 * math.log(1.8))
    assert float(sparsity_kl(0.3, torch.tensor([0.3]))) == pytest.approx(0.0, abs=1e-7)


def test_sparse_penalties_on_known_codes():
    code = torch.tensor([[0.1, 0.9], [0.3, 0.5]])
    kl = registry.build("sparse-ae", {"data_shape": [1, 8, 8], "latent_dim": 2, "target_rate": 0.1,
                                      "sparsity_weight": 2.0})
    expected = 2.0 * (float(sparsity_kl(0.1, torch.tensor([0.2]))) + float(sparsity_kl(0.1, torch.tensor([0.7]))))
    assert float(kl.penalty(None, code)["penalty"]) == pytest.approx(expected)
    l1 = registry.build("sparse-ae", {"data_shape": [1, 8, 8], "latent_dim": 2, "sparsity": "l1",
                                      "sparsity_weight": 0.5, "code_activation": "relu"})
    assert float(l1.penalty(None, -code)["penalty"]) == pytest.approx(0.5 * (1.0 + 0.8) / 2)


@pytest.mark.parametrize("act", ["relu", "leaky_relu", "sigmoid", "tanh", "elu", "gelu", "silu"])
def test_encoder_jacobian_matches_autograd(act):
    torch.manual_seed(0)
    model = registry.build("contractive-ae", {"data_shape": [1, 3, 4], "latent_dim": 5, "mlp_hidden": [7, 6],
                                              "activation": act, "code_activation": "tanh"})
    x = torch.randn(3, 1, 3, 4, dtype=torch.float32)
    code, jac = encoder_jacobian(model.encoder, x)
    assert torch.allclose(code, model.encode(x), atol=1e-6)
    for i in range(3):
        full = torch.autograd.functional.jacobian(lambda v: model.encoder(v.view(1, 1, 3, 4))[0], x[i].flatten())
        assert torch.allclose(jac[i], full, atol=1e-5), act
    frob = model.jacobian_norm_sq(x)
    assert torch.allclose(frob, jac.pow(2).sum((1, 2)))


def test_contractive_penalty_single_sigmoid_layer_closed_form():
    # Rifai et al. 2011: ||J||_F^2 = sum_j (h_j (1 - h_j))^2 sum_i W_ji^2
    model = registry.build("contractive-ae", {"data_shape": [1, 2, 2], "latent_dim": 3, "mlp_hidden": [],
                                              "contractive_weight": 0.5})
    lin = next(m for m in model.encoder.modules() if isinstance(m, nn.Linear))
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([[1.0, -2.0, 0.0, 0.5], [0.0, 1.0, 1.0, 1.0], [3.0, 0.0, 0.0, 0.0]]))
        lin.bias.copy_(torch.tensor([0.0, 1.0, -1.0]))
    x = torch.tensor([[0.2, 0.4, 0.6, 0.8]])
    h = torch.sigmoid(x @ lin.weight.T + lin.bias)[0].detach()
    hand = sum(float(h[j] * (1 - h[j])) ** 2 * float(lin.weight[j].detach().pow(2).sum()) for j in range(3))
    terms = model.penalty(x.view(1, 1, 2, 2), model.encode(x.view(1, 1, 2, 2)))
    assert float(terms["jacobian_fro2"].detach()) == pytest.approx(hand, rel=1e-5)
    assert float(terms["penalty"].detach()) == pytest.approx(0.5 * hand, rel=1e-5)
    terms["penalty"].backward()
    assert lin.weight.grad is not None and lin.weight.grad.abs().sum() > 0


def test_conv_ae_pooling_encoder():
    model = registry.build("conv-ae", {"data_shape": [1, 28, 28], "latent_dim": 8, "conv_widths": [4, 8],
                                       "downsample": "pool"})
    assert sum(isinstance(m, nn.MaxPool2d) for m in model.modules()) == 2
    assert not any(isinstance(m, nn.Conv2d) and m.stride == (2, 2) for m in model.encoder.modules())
    x = torch.rand(3, 1, 28, 28)
    assert model.encode(x).shape == (3, 8) and model.reconstruct(x).shape == x.shape


def test_code_statistics_running_average():
    stats = CodeStatistics(2, min_momentum=0.5)
    a, b = torch.tensor([[0.0, 2.0], [2.0, 2.0]]), torch.tensor([[4.0, 0.0], [4.0, 0.0]])
    stats.update(a)  # weight 1: the batch itself
    assert torch.allclose(stats.mean, torch.tensor([1.0, 2.0])) and torch.allclose(stats.var, torch.tensor([1.0, 0.0]))
    stats.update(b)  # weight 1/2: the average of both batches
    assert torch.allclose(stats.mean, torch.tensor([2.5, 1.0])) and torch.allclose(stats.var, torch.tensor([0.5, 0.0]))
    torch.manual_seed(0)
    s = stats.sample(4000)
    assert abs(float(s[:, 0].mean()) - 2.5) < 0.05 and float(s[:, 1].std()) == 0.0


def test_stacked_ae_stages_train_one_layer_at_a_time():
    model = registry.build("stacked-ae", {"data_shape": [1, 8, 8], "latent_dim": 4, "mlp_hidden": [16, 8],
                                          "pretrain_steps": 2})
    x = torch.rand(6, 1, 8, 8)
    seen = []
    for _ in range(8):
        model.zero_grad(set_to_none=True)
        out = model.losses(Batch(x))
        out["loss"].backward()
        trained = {name.split(".")[0] + "." + name.split(".")[1] for name, p in model.named_parameters()
                   if p.grad is not None and p.grad.abs().sum() > 0}
        seen.append((int(out["stage"]), trained))
        model.after_step("model")
    assert [s for s, _ in seen] == [0, 0, 1, 1, 2, 2, 3, 3]
    assert seen[0][1] == {"encoder.1", "decoder.2"}  # layer 0: first encoder block, last decoder block
    assert seen[2][1] == {"encoder.2", "decoder.1"}
    assert seen[4][1] == {"encoder.3", "decoder.0"}
    assert seen[6][1] == {"encoder.1", "encoder.2", "encoder.3", "decoder.0", "decoder.1", "decoder.2"}
    # validation measures the whole autoencoder in every stage
    fresh = registry.build("stacked-ae", {"data_shape": [1, 8, 8], "latent_dim": 4, "mlp_hidden": [16, 8]})
    assert set(fresh.evaluate(Batch(x))) >= {"rec", "mse"}


def test_stacked_ae_resume_is_exact(tmp_path):
    # pretraining of 2 layers for 1 step each, then fine-tuning; the resume crosses into fine-tuning
    cfg = {"latent_dim": 4, "mlp_hidden": [8], "pretrain_steps": 1}
    train = {**QUICK, "steps": 4, "deterministic": True}
    full = genlab.train("stacked-ae", data="digits", model_config=cfg, train=train)  # in memory
    genlab.train("stacked-ae", data="digits", model_config=cfg, train={**train, "steps": 2}, out=tmp_path / "half")
    resumed = genlab.resume(tmp_path / "half", steps=4)
    assert int(resumed.steps_done) == 4 and resumed.stage() == 2
    for k, v in full.state_dict().items():
        assert torch.equal(v, resumed.state_dict()[k]), k


@pytest.mark.parametrize("name", AE_NAMES)
def test_every_autoencoder_trains_and_samples(name):
    model = genlab.train(name, data="digits", model_config=TINY, train=QUICK)  # in memory: no run directory
    assert int(model.code_stats.batches) == (4 if name != "stacked-ae" else 0)  # stacked: still pretraining
    assert model.eval().sample(3).shape == (3, 1, 8, 8)


def test_cli_train_and_latent_commands(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "sparse-ae", "--dataset", "digits", "--out", str(out), "--steps", "3", "--batch-size", "32",
                 "--latent-dim", "8", "--mlp-hidden", "16", "--sparsity", "l1", "--code-activation", "relu"]) == 0
    assert main(["reconstruct", str(out), "--n", "4"]) == 0
    assert main(["interpolate", str(out), "--steps", "4"]) == 0
    assert main(["traverse", str(out), "--dims", "0", "1"]) == 0
    assert (out / "reconstructions.png").is_file() and (out / "interpolation.png").is_file()
