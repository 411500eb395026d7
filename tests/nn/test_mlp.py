"""The activation names: the config type and the table of modules agree."""
import typing

from genlab.models.classifier import ClassifierConfig
from genlab.models.parts import Activation as PartsActivation
from genlab.nn.mlp import ACTIVATIONS, Activation, activation


def test_activation_literal_names_every_activation():
    assert set(typing.get_args(Activation)) == set(ACTIVATIONS)
    assert PartsActivation is Activation
    assert typing.get_type_hints(ClassifierConfig)["activation"] == Activation
    for name in typing.get_args(Activation):
        activation(name)
