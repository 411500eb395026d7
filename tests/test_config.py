import json

import pytest

from genlab.config import DataConfig, TrainConfig, from_dict, read_config_file, replace, to_dict
from genlab.errors import ConfigError
from genlab.models.vae import VAEConfig


def test_round_trip_through_json():
    cfg = VAEConfig(latent_dim=7, conv_widths=(8, 16), likelihood="gaussian")
    again = from_dict(VAEConfig, json.loads(json.dumps(to_dict(cfg))))
    assert again == cfg
    assert isinstance(again.conv_widths, tuple)


def test_unknown_key_suggests_the_closest():
    with pytest.raises(ConfigError, match=r"unknown key 'latnt_dim'.*did you mean 'latent_dim'"):
        from_dict(VAEConfig, {"latnt_dim": 3})


@pytest.mark.parametrize("key,value,expected", [
    ("epochs", "3", 3), ("lr", "1e-4", 1e-4), ("deterministic", "true", True), ("steps", None, None),
    ("betas", "0.5 0.9", (0.5, 0.9)), ("betas", ["0.5", "0.99"], (0.5, 0.99)), ("phase_lr", {"critic": 0.1}, {"critic": 0.1}),
])
def test_values_are_coerced_to_field_types(key, value, expected):
    assert getattr(from_dict(TrainConfig, {key: value}), key) == expected


@pytest.mark.parametrize("key,value,words", [
    ("epochs", "many", "expected an integer"), ("epochs", 2.5, "expected an integer"),
    ("precision", "fp16", "not one of"), ("deterministic", "maybe", "true or false"), ("epochs", 0, "at least 1"),
])
def test_bad_values_are_one_line_errors(key, value, words):
    with pytest.raises(ConfigError, match=words):
        from_dict(TrainConfig, {key: value})


def test_data_config_checks_channels():
    with pytest.raises(ConfigError, match="channels must be 1 or 3"):
        from_dict(DataConfig, {"channels": 2})


def test_replace_keeps_checks():
    assert replace(TrainConfig(), epochs=4).epochs == 4
    with pytest.raises(ConfigError):
        replace(TrainConfig(), epoch=4)


def test_config_file_sections(tmp_path):
    good = tmp_path / "c.json"
    good.write_text(json.dumps({"model": {"latent_dim": 4}, "train": {"epochs": 2}}))
    assert read_config_file(good)["train"]["epochs"] == 2
    toml = tmp_path / "c.toml"
    toml.write_text("[train]\nepochs = 3\n")
    assert read_config_file(toml)["train"]["epochs"] == 3
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"trian": {}}))
    with pytest.raises(ConfigError, match="did you mean 'train'"):
        read_config_file(bad)
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(ConfigError, match="cannot parse"):
        read_config_file(broken)
    with pytest.raises(ConfigError, match="not found"):
        read_config_file(tmp_path / "missing.json")


@pytest.mark.parametrize("key,value,words", [
    ("epochs", "inf", "expected a finite integer"), ("epochs", float("nan"), "expected a finite integer"),
    ("lr", "nan", "expected a finite number"), ("lr", float("inf"), "expected a finite number"),
    ("time_budget", "-inf", "expected a finite number"), ("seed", 10**30, "too large"),
    ("betas", [0.9], "expected 2 values, got 1"), ("betas", "0.9 0.99 0.5", "expected 2 values, got 3"),
    ("betas", [1.5, 0.9], r"betas\[0\] must be in \[0, 1\)"), ("weight_decay", -1, "weight_decay must be >= 0"),
    ("momentum", -1, r"momentum must be in \[0, 1\)"), ("grad_clip", -0.5, "grad_clip must be >= 0"),
    ("eval_batches", -1, "eval_batches must be >= 0"), ("num_samples", 0, "num_samples must be in"),
    ("epochs", True, "expected an integer"),
])
def test_non_finite_wrong_length_and_out_of_range_values_are_refused(key, value, words):
    with pytest.raises(ConfigError, match=words):
        from_dict(TrainConfig, {key: value})


def test_integers_keep_their_exact_value():
    assert from_dict(TrainConfig, {"seed": "4294967295"}).seed == 4294967295
    assert from_dict(TrainConfig, {"epochs": "1e2"}).epochs == 100
    with pytest.raises(ConfigError, match="expected an integer"):
        from_dict(TrainConfig, {"epochs": "0x10"})


def test_optimizer_config_checks_its_values():
    from genlab.config import OptimizerConfig

    for bad in ({"lr": 0}, {"betas": (0.9, 1.0)}, {"weight_decay": -1e-4}, {"momentum": 1.0}):
        with pytest.raises(ConfigError):
            from_dict(OptimizerConfig, bad)
    assert from_dict(OptimizerConfig, {"name": "sgd", "momentum": 0.9}).momentum == 0.9


def test_data_fractions_have_a_range():
    with pytest.raises(ConfigError, match=r"validation_fraction must be in \[0, 1\), got 1.5"):
        from_dict(DataConfig, {"validation_fraction": 1.5})
    with pytest.raises(ConfigError, match="must be below 1"):
        from_dict(DataConfig, {"validation_fraction": 0.5, "test_fraction": 0.5})


def test_phase_names_are_checked():
    from genlab.config import check_phase_names

    check_phase_names({"critic": 1e-3}, ["critic", "generator"])
    with pytest.raises(ConfigError, match=r"no phase 'critc' \(did you mean 'critic'\?\); its phases: critic, generator"):
        check_phase_names({"critc": 1e-3}, ["critic", "generator"])


def test_a_config_file_that_is_not_utf8(tmp_path):
    bad = tmp_path / "latin1.toml"
    bad.write_bytes("[data]\ndataset = 'caf\xe9'\n".encode("latin-1"))
    with pytest.raises(ConfigError, match="not UTF-8"):
        read_config_file(bad)


def test_choices_are_checked_on_configs_built_directly_too():
    """from_dict checks Literal fields as it converts; a config built in Python meets the same rule
    where a model or run takes it (one line naming the class, field and choices)."""
    from genlab.models.vae import VAE
    from genlab.models.video import VideoGAN, VideoGANConfig

    with pytest.raises(ConfigError, match=r"VideoGANConfig.image_norm: 'btach' is not one of none, batch, layer "
                                          r"\(did you mean 'batch'\?\)"):
        VideoGAN(VideoGANConfig(data_shape=(16, 1, 32, 32), image_norm="btach"))
    with pytest.raises(ConfigError, match="DataConfig.binarize: 'yes' is not one of none, dynamic, static"):
        DataConfig(binarize="yes")
    with pytest.raises(ConfigError, match="TrainConfig.precision"):
        TrainConfig(precision="fp16")
    VAE(VAEConfig())  # defaults pass
    cfg = VAEConfig()
    assert from_dict(VAEConfig, to_dict(cfg)) == cfg
