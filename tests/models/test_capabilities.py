"""What a model is and can do is declared on its class; the declarations match the class, and the
rest of genlab reads them instead of probing models and configs with hasattr/getattr."""
import ast
import inspect
from pathlib import Path

import pytest

import genlab
from genlab import registry
from genlab.config import field_names
from genlab.models.base import GenerativeModel, LatentModel, LikelihoodModel, default_labels

SRC = Path(genlab.__file__).parent


def test_default_labels_cycle_through_the_classes_or_give_one_class_per_row():
    assert default_labels(7, 3).tolist() == [0, 1, 2, 0, 1, 2, 0]
    assert default_labels(7, 3, run=2).tolist() == [0, 0, 1, 1, 2, 2, 0]
    assert default_labels(4, 10, run=100).tolist() == [0, 0, 0, 0]
    with pytest.raises(ValueError, match="at least one class"):
        default_labels(3, 0)


@pytest.mark.parametrize("name", registry.names())
def test_declarations_match_the_class(name):
    entry = registry.get(name)
    cls, fields = entry.model_class, field_names(entry.config_class)
    accepted = set(inspect.signature(cls.sample).parameters) - {"self", "n", "labels"}
    assert set(cls.sample_options) == accepted, "sample_options must list what sample() takes"
    assert cls.has_trajectory == callable(getattr(cls, "denoising_trajectory", None))
    if issubclass(cls, LikelihoodModel):  # the contract's methods are implemented, not the stubs
        assert cls.log_likelihood is not LikelihoodModel.log_likelihood
        assert cls.elbo_terms is not LikelihoodModel.elbo_terms
    else:  # a likelihood outside the contract would go unseen by the 'nll' metric and the anomaly scores
        assert not hasattr(cls, "log_likelihood") and not hasattr(cls, "elbo_terms")
    if cls.requires_labels:
        assert "num_classes" in fields
    elif cls.generative:  # a generative model with classes in its config but no declaration would ignore them
        assert "num_classes" not in fields
    assert set(cls.data_kinds) <= {"images", "sequences", "clips", "pairs", "unpaired"} and cls.data_kinds
    assert cls.predicts_frames == callable(getattr(cls, "predict_frames", None))


@pytest.mark.parametrize("name", ["cgan", "cvae", "cddpm", "gan", "vae", "ddpm"])
def test_num_classes_is_the_config_s_for_conditional_models_and_zero_otherwise(name):
    fields = {"data_shape": [1, 8, 8]}
    if registry.get(name).model_class.requires_labels:
        fields["num_classes"] = 3
    if name in ("cddpm", "ddpm"):
        fields.update(base_width=8, width_mults=[1], blocks_per_level=1, attention_size=0, norm_groups=4, timesteps=4,
                      sample_steps=2)
    model = registry.build(name, fields)
    assert model.num_classes == (3 if model.requires_labels else 0)
    assert model.data_kind == "images"


def test_sample_grid_gives_a_conditional_model_one_class_per_row():
    model = registry.build("cvae", {"data_shape": [1, 8, 8], "num_classes": 3, "architecture": "mlp",
                                    "mlp_hidden": [8]}).eval()
    seen = []
    original = model.sample
    model.sample = lambda n, labels=None: seen.append(labels.tolist()) or original(n, labels)
    images, per_row = model.sample_grid(7)
    assert per_row == 2 and images.shape == (6, 1, 8, 8) and seen == [[0, 0, 1, 1, 2, 2]]
    del model.sample
    decode = model.decode
    model.decode = lambda z, labels=None: seen.append(labels.tolist()) or decode(z, labels)
    assert model.sample(5).shape == (5, 1, 8, 8) and seen[-1] == [0, 1, 2, 0, 1]  # sample(n): classes in turn


def test_contract_classes_say_what_reconstructs_and_what_has_a_likelihood():
    assert issubclass(registry.get("iwae").model_class, LikelihoodModel)
    assert issubclass(registry.get("recurrent-ae").model_class, LatentModel)
    assert not issubclass(registry.get("ae").model_class, LikelihoodModel)
    assert not issubclass(registry.get("cgan").model_class, LatentModel)
    assert issubclass(LikelihoodModel, LatentModel) and issubclass(LatentModel, GenerativeModel)


# names whose capabilities are declared: probing them with hasattr/getattr is what this replaced
PROBED = {"model", "model_class", "cls", "cfg", "config", "entry"}


def _probes(tree: ast.AST) -> list[str]:
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("getattr", "hasattr"):
            target = ast.unparse(node.args[0]) if node.args else ""
            last = target.rsplit(".", 1)[-1]
            if last in PROBED or target.endswith(".model_class"):
                out.append(f"line {node.lineno}: {ast.unparse(node)}")
    return out


def test_no_module_probes_models_or_configs_for_capabilities():
    found = {str(p.relative_to(SRC)): _probes(ast.parse(p.read_text())) for p in SRC.rglob("*.py")}
    assert {k: v for k, v in found.items() if v} == {}


def test_the_probe_finder_finds_probes():  # so the test above can fail
    code = 'getattr(model.config, "num_classes", 0)\nhasattr(model, "x")\ngetattr(torch.cpu, "y", None)\n'
    assert len(_probes(ast.parse(code))) == 2
