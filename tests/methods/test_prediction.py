"""Data prediction (`method.prediction = "data"`): the velocity formed from an endpoint net."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from pushforward.data import make_distribution
from pushforward.interpolants import PATHS, Interpolant
from pushforward.methods import build_method
from pushforward.methods.prediction import DataPrediction
from pushforward.nets import NetConfig
from pushforward.train import TrainConfig, fit
from tests.generators import gen


class Oracle(nn.Module):
    """Returns a fixed endpoint tensor whatever it is asked (the exact x₁ of a pair)."""

    def __init__(self, x1: torch.Tensor) -> None:
        super().__init__()
        self.x1 = x1

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return self.x1


@pytest.mark.parametrize("path", PATHS)
def test_the_exact_endpoint_gives_the_exact_velocity_on_every_path(path):
    """x̂₁ = x₁ at x_t = α x₀ + β x₁ gives α̇ x₀ + β̇ x₁ wherever α ≥ α_min."""
    interp = Interpolant(path)
    x0, x1 = torch.randn(6, 3, generator=gen(1)), torch.randn(6, 3, generator=gen(2))
    t = torch.tensor([0.0, 0.1, 0.3, 0.5, 0.7, 0.8])
    assert bool((interp.coefficients(t).alpha > 0.05).all())
    xt = interp.point(x0, x1, None, t)
    v = DataPrediction(Oracle(x1), interp, alpha_min=0.05)(xt, t)
    torch.testing.assert_close(v, interp.velocity_target(x0, x1, t), rtol=1e-5, atol=1e-5)


def test_the_gain_is_capped_at_one_over_alpha_min_near_the_end():
    """Linear path at t = 0.99: v = −(x − t x̂₁) / max(1 − t, α_min) + x̂₁ with α_min = 0.05."""
    x, x1 = torch.zeros(1, 2), torch.ones(1, 2)
    v = DataPrediction(Oracle(x1), Interpolant("linear"), alpha_min=0.05)(x, torch.tensor([0.99]))
    torch.testing.assert_close(v, torch.full((1, 2), 0.99 / 0.05 + 1))
    scalar_t = DataPrediction(Oracle(x1), Interpolant("linear"))(x, torch.tensor(0.5))
    torch.testing.assert_close(scalar_t, torch.full((1, 2), 2.0))


def test_sampling_clamps_the_endpoint_into_its_box_and_training_sees_it_raw():
    """Linear path at t = 0.5 with x̂₁ = 3 and box [0, 1]: v = 2 (x̂₁ − x) in both modes."""
    x = torch.zeros(1, 2)
    head = DataPrediction(Oracle(torch.full((1, 2), 3.0)), Interpolant("linear"), box=(0.0, 1.0))
    torch.testing.assert_close(head(x, torch.tensor([0.5])), torch.full((1, 2), 6.0))
    torch.testing.assert_close(head.eval()(x, torch.tensor([0.5])), torch.full((1, 2), 2.0))
    target, net = make_distribution("8gaussians"), NetConfig(width=8, depth=1)
    spec = {"name": "flow-matching", "prediction": "data", "prediction_range": [-4.0, 4.0]}
    assert build_method(spec, target, None, net, gen()).velocity.box == (-4.0, 4.0)


def test_bad_prediction_settings_are_refused():
    target, net = make_distribution("8gaussians"), NetConfig(width=8, depth=1)
    for method, match in (
        ({"name": "flow-matching", "prediction": "noise"}, "velocity.*data"),
        ({"name": "flow-matching", "prediction": "data", "alpha_min": 0.0}, "alpha_min"),
        ({"name": "stochastic-interpolant", "sigma": 0.5, "prediction": "data"}, "sigma = 0"),
        ({"name": "flow-matching", "prediction_range": [0.0, 1.0]}, "needs prediction = 'data'"),
        ({"name": "flow-matching", "prediction": "data", "prediction_range": [1, 0]}, "low < high"),
    ):
        with pytest.raises(Exception, match=match):
            build_method(method, target, None, net, gen())
    with pytest.raises(ValueError, match="deterministic"):
        DataPrediction(nn.Identity(), Interpolant("linear", 0.5))


def test_a_data_predicting_flow_trains_and_samples_the_target():
    """A short real run: the endpoint head's flow puts a Gaussian's mean and stds in place."""
    target = make_distribution("gaussian-mixture", means=[[1.0, -1.0]], stds=[[1.5, 0.5]])
    fm = build_method(
        {"name": "flow-matching", "prediction": "data", "steps": 40},
        target,
        None,
        NetConfig(width=64, depth=2),
        gen(),
    )
    assert isinstance(fm.velocity, DataPrediction)
    fit(fm, target, TrainConfig(steps=300, batch_size=256, lr=5e-3, schedule="cosine"),
        progress=False)  # fmt: skip
    x = fm.sample(2000, generator=gen(5))
    torch.testing.assert_close(x.mean(0), torch.tensor([1.0, -1.0]), atol=0.15, rtol=0)
    torch.testing.assert_close(x.std(0), torch.tensor([1.5, 0.5]), atol=0.2, rtol=0)


def test_guidance_reaches_the_wrapped_net():
    """A conditional data-predicting flow: w = 1 inside `given` is the conditional net."""
    target = make_distribution("8gaussians")
    fm = build_method({"name": "flow-matching", "prediction": "data", "conditional": True},
                      target, None, NetConfig(width=16, depth=1), gen())  # fmt: skip
    x, t = torch.randn(8, 2, generator=gen(3)), torch.full((8,), 0.4)
    labels = torch.arange(8) % 8
    with fm.given(labels, 1.0):
        guided = fm.velocity(x, t)
    code = torch.nn.functional.one_hot(labels, 8).float()
    torch.testing.assert_close(guided, fm.velocity(x, t, code=code))
    assert not torch.allclose(guided, fm.velocity(x, t))  # outside: the unconditional net
