"""A classifier that also regresses the data's known generative factors (the `shapes` extractor's recipe)."""
import pytest
import torch
import torch.nn.functional as F

import genlab
from genlab.cli import main
from genlab.data.base import ArrayDataset, Batch, Splits


def _splits(factors: bool) -> Splits:
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (64, 3, 8, 8), generator=g, dtype=torch.uint8)
    f = torch.randn(64, 5, generator=g) if factors else None
    ds = ArrayDataset(x, torch.arange(64) % 4, "toy", ["a", "b", "c", "d"], {}, f)
    return Splits(ds, ds, ds)


def test_loss_is_cross_entropy_plus_weighted_factor_error():
    model = genlab.train("classifier", splits=_splits(True), data={"dataset": "digits"},
                         model_config={"arch": "vgg11", "vgg_width": 2, "vgg_hidden": 8, "factors": True,
                                       "factor_weight": 0.3},
                         train={"steps": 1, "batch_size": 16, "log_every": 0, "precision": "fp32"})
    assert model.config.factor_dim == 5 and model.factor_head.out_features == 5
    model.eval()
    torch.manual_seed(1)
    batch = Batch(torch.rand(6, 3, 8, 8), torch.tensor([0, 1, 2, 3, 0, 1]), torch.randn(6, 5))
    out = model.losses(batch)
    logits = model.logits(batch.x)  # the classifier's own path: features, then the class head
    error = F.mse_loss(model.factor_head(model.features(batch.x)), batch.factors)
    ce = F.cross_entropy(logits, batch.y)
    torch.testing.assert_close(out["loss"], ce + 0.3 * error)
    torch.testing.assert_close(out["factor_mse"], error)
    # without the option the head is absent and the loss is the cross-entropy alone
    plain = genlab.train("classifier", splits=_splits(True), data={"dataset": "digits"},
                         model_config={"arch": "vgg11", "vgg_width": 2, "vgg_hidden": 8},
                         train={"steps": 1, "batch_size": 16, "log_every": 0, "precision": "fp32"})
    plain.eval()
    assert plain.factor_head is None and "factor_mse" not in plain.losses(batch)
    torch.testing.assert_close(plain.losses(batch)["loss"], F.cross_entropy(plain.logits(batch.x), batch.y))


def test_factors_on_data_without_them_is_one_clear_line(tmp_path, capsys):
    code = main(["train", "classifier", "--dataset", "digits", "--arch", "lenet5", "--factors", "--steps", "1",
                 "--out", str(tmp_path / "run")])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("genlab: error: ") and "generative factors" in err[-1]


@pytest.mark.parametrize("weight", [-1.0])
def test_negative_factor_weight_is_refused(weight):
    from genlab.models.classifier import ClassifierConfig

    with pytest.raises(ValueError, match="factor_weight"):
        ClassifierConfig(data_shape=(3, 8, 8), num_classes=4, arch="vgg11", factors=True, factor_dim=2,
                         factor_weight=weight)
