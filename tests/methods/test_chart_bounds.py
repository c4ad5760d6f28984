"""A chart whose decoder ends in a scaled sigmoid: outputs in the box, trained through the bound."""

import pytest
import torch

from pushforward.data import make_distribution
from pushforward.errors import ConfigError
from pushforward.methods import build_method
from pushforward.nets import NetConfig
from pushforward.nets.chart import Chart
from pushforward.train import TrainConfig, fit
from tests.generators import gen

SMALL = NetConfig(width=32, depth=2)
BOX = [0.0, 1.0]


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/methods/conftest.py


def in_box():
    """Two blobs inside the unit square, one touching its lower edge."""
    return make_distribution("bimodal", means=[[0.3, 0.05], [0.7, 0.6]], std=0.05)


def test_a_bounded_chart_decodes_into_the_box_and_its_logit_inverts_the_decoder():
    chart = Chart(2, 3, SMALL, bounds=(-1.0, 2.0), generator=gen(0))
    z = 50.0 * torch.randn(400, 3, generator=gen(1))  # far out: the raw decoder leaves the box
    with torch.no_grad():
        raw, x = chart.decoder(z), chart.decode(z)
    assert float(raw.min()) < -1.0 and float(raw.max()) > 2.0
    torch.testing.assert_close(x, -1.0 + 3.0 / (1.0 + torch.exp(-raw)))  # low + (h − l) σ(h)
    inside = x[(x > -0.99) & (x < 1.99)]  # away from saturation the logit is exact
    h = chart.pre_activation(inside)
    torch.testing.assert_close(-1.0 + 3.0 * torch.sigmoid(h), inside)
    free = Chart(2, 3, SMALL, generator=gen(0))
    with torch.no_grad():
        torch.testing.assert_close(free.decode(z), raw)  # the same weights, no bound
    with pytest.raises(ValueError, match="low < high"):
        Chart(2, 3, SMALL, bounds=(1.0, 1.0), generator=gen(0))


def test_training_sees_the_sigmoid_but_not_the_clamp():
    target = in_box()
    batch = target.sample(64, gen(2))
    logs = {}
    for bound in ("clamp", "sigmoid"):
        params = {"name": "chart-transport", "output_range": BOX, "output_bound": bound,
                  "init_scale": 20.0}  # fmt: skip
        method = build_method(params, target, None, SMALL, gen(0))
        _, logs[bound] = method.loss(batch, gen(3))
        with torch.no_grad():
            raw = method.chart.decoder(method.chart.encode(batch)[0])
        unbounded = float((raw - batch).square().sum(1).mean())
        squashed = float((torch.sigmoid(raw) - batch).square().sum(1).mean())
        assert logs[bound]["rec"] == pytest.approx(unbounded if bound == "clamp" else squashed)
        x = method.sample(500, generator=gen(1))
        assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0
    assert logs["sigmoid"]["rec"] < logs["clamp"]["rec"]  # the raw outputs were far outside


def test_the_first_samples_sit_at_init_offset_through_the_sigmoid():
    params = {"name": "chart-transport", "output_range": BOX, "output_bound": "sigmoid",
              "init_scale": 1e-3, "init_offset": [0.2, 0.9]}  # fmt: skip
    method = build_method(params, in_box(), None, SMALL, gen(0))
    x = method.sample(200, generator=gen(1))
    torch.testing.assert_close(x.mean(0), torch.tensor([0.2, 0.9]), atol=1e-3, rtol=0)
    params["init_offset"] = [0.2, 1.0]  # on the edge: the logit is infinite
    with pytest.raises(ConfigError, match="strictly inside"):
        build_method(params, in_box(), None, SMALL, gen(0))


def test_a_short_sigmoid_bounded_fit_reconstructs_inside_the_box():
    target = in_box()
    params = {"name": "chart-transport", "output_range": BOX, "output_bound": "sigmoid",
              "w_drift": 0.1}  # fmt: skip
    method = build_method(params, target, None, SMALL, gen(0))
    fit(method, target, TrainConfig(steps=300, batch_size=128, lr=2e-3, snapshots=0), seed=0,
        progress=False)  # fmt: skip
    x = target.sample(1000, gen(5))
    with torch.no_grad():
        rec = method.decode(method.chart.encode(x)[0])
    err = float((rec - x).square().sum(1).mean())
    assert err < 0.05 * float(x.var(0).sum()), err
    assert float(rec.min()) > 0.0 and float(rec.max()) < 1.0


@pytest.mark.parametrize(
    "params, match",
    [
        ({"output_bound": "tanh", "output_range": BOX}, "output_bound"),
        ({"output_bound": "sigmoid"}, "output_range"),
    ],
)
def test_bad_bounds_are_refused_with_what_to_set(params, match):
    with pytest.raises(ConfigError, match=match):
        build_method({"name": "chart-transport", **params}, in_box(), None, SMALL, gen(0))
