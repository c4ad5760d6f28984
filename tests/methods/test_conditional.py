"""Class-conditional generation: labelled data, classifier-free guidance, guidance through
negatives, the guidance sweep and the CLI."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from pushforward.cli import main
from pushforward.data import make_distribution
from pushforward.errors import ConfigError
from pushforward.fields import PaperField, drift
from pushforward.fields.paper import drift_parts
from pushforward.methods.chart_transport import ChartTransport, prior_means
from pushforward.methods.conditioning import (
    NULL,
    GuidedNet,
    check_labels,
    drop_labels,
    grid_labels,
    guided,
    one_hot,
)
from pushforward.methods.drifting import Drifting
from pushforward.methods.flow_matching import FlowMatching
from pushforward.metrics import class_accuracy
from pushforward.nets import MLP, NetConfig
from pushforward.studies.guidance import guidance_sweep
from pushforward.train import TrainConfig, fit
from tests.generators import gen

BIMODAL = {"means": [[-2.0, 0.0], [2.0, 0.0]], "std": 0.3}


def at_mode(x: torch.Tensor, target, label: int) -> float:
    """Share of `x` within 1.0 of mode `label`'s centre."""
    return float(((x - target.means[label]).norm(dim=1) < 1.0).float().mean())


# ---- codes, dropout, guidance --------------------------------------------------------------


def test_one_hot_codes_and_null_is_zero():
    code = one_hot(torch.tensor([0, 2, NULL, 1]), 3)
    assert code.tolist() == [[1, 0, 0], [0, 0, 1], [0, 0, 0], [0, 1, 0]]


def test_drop_labels_rate_and_determinism():
    labels = torch.zeros(20000, dtype=torch.long)
    dropped = drop_labels(labels, 0.3, gen(1))
    share = float((dropped == NULL).float().mean())
    assert abs(share - 0.3) < 0.015
    assert torch.equal(dropped, drop_labels(labels, 0.3, gen(1)))
    assert torch.equal(drop_labels(labels, 0.0, gen(1)), labels)


def test_guided_is_the_cfg_combination():
    c, u = torch.tensor([3.0, -1.0]), torch.tensor([1.0, 1.0])
    assert guided(c, u, 0.0).tolist() == [1.0, 1.0]
    assert guided(c, u, 1.0).tolist() == [3.0, -1.0]
    assert guided(c, u, 2.5).tolist() == [6.0, -4.0]


def test_grid_and_check_labels():
    assert grid_labels(3, 2).tolist() == [0, 0, 1, 1, 2, 2]
    assert check_labels(torch.tensor([0, 2]), 2, 3).dtype == torch.long
    with pytest.raises(ConfigError, match="classes 0..2"):
        check_labels(torch.tensor([0, 3]), 2, 3)
    with pytest.raises(ConfigError, match="2 integers"):
        check_labels(torch.tensor([0.0, 1.0]), 2, 3)


def test_guided_net_scale_one_is_the_conditional_net_and_zero_the_unconditional():
    net = GuidedNet(MLP(2 + 3, 2, NetConfig(16, 2), time=True, generator=gen()), 3)
    x, t = torch.randn(6, 2, generator=gen(1)), torch.rand(6, generator=gen(2))
    labels = torch.tensor([0, 1, 2, 0, 1, 2])
    cond = net(x, t, code=one_hot(labels, 3))
    uncond = net(x, t, code=torch.zeros(6, 3))
    with net.given(labels, 1.0):
        assert torch.equal(net(x, t), cond)
    with net.given(labels, 0.0):
        assert torch.allclose(net(x, t), uncond, atol=1e-6)
    with net.given(labels, 3.0):
        assert torch.allclose(net(x, t), uncond + 3.0 * (cond - uncond), atol=1e-5)
    assert torch.equal(net(x, t), uncond)  # outside `given`: the unconditional model
    with net.given(labels[:2]), pytest.raises(ValueError, match="2 labels"):
        net(x, t)


def test_class_accuracy_closed_form():
    out = class_accuracy(torch.tensor([0, 1, 1, -1]), torch.tensor([0, 1, 0, 2]), 3)
    assert out["class_accuracy"] == 0.5
    assert (out["class_acc/0"], out["class_acc/1"], out["class_acc/2"]) == (0.5, 1.0, 0.0)
    assert math.isnan(class_accuracy(torch.tensor([0]), torch.tensor([0]), 2)["class_acc/1"])
    with pytest.raises(ValueError, match="equal"):
        class_accuracy(torch.tensor([0, 1]), torch.tensor([0]), 2)


# ---- labelled data -------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["bimodal", "8gaussians", "digits"])
def test_sample_labeled_draws_what_sample_draws(name):
    target = make_distribution(name)
    x, y = target.sample_labeled(300, gen(4))
    assert torch.equal(x, target.sample(300, gen(4)))
    assert y.dtype == torch.long and y.shape == (300,)
    assert int(y.min()) >= 0 and int(y.max()) < target.n_classes


def test_mixture_labels_are_the_components():
    target = make_distribution("8gaussians")
    x, y = target.sample_labeled(500, gen(5))
    nearest = torch.cdist(x, target.means).argmin(1)
    assert float((nearest == y).float().mean()) > 0.99


def test_digit_labels_are_the_data_sets_labels():
    target = make_distribution("digits")
    x, y = target.sample_labeled(50, gen(6))
    images, labels = target.tensors()
    rows = (x[:, None, :] == images[None]).all(-1).float().argmax(1)
    assert torch.equal(labels[rows], y)


def test_unlabelled_data_refuses_conditional_methods():
    moons = make_distribution("moons")
    with pytest.raises(ConfigError, match="no class labels"):
        moons.sample_labeled(4)
    with pytest.raises(ConfigError, match="needs labelled data"):
        FlowMatching(moons, None, FlowMatching.Config(conditional=True), NetConfig(8, 1), gen())


# ---- flow matching with classifier-free guidance -------------------------------------------


@pytest.fixture(scope="module")
def cfm():
    target = make_distribution("bimodal", **BIMODAL)
    method = FlowMatching(target, None, FlowMatching.Config(conditional=True, p_uncond=0.2),
                          NetConfig(64, 2), gen())  # fmt: skip
    fit(method, target, TrainConfig(steps=800, batch_size=256, lr=2e-3), progress=False, seed=0)
    return target, method


def test_conditional_flow_matching_puts_samples_in_the_asked_class(cfm):
    target, method = cfm
    for label in (0, 1):
        x = method.sample(400, generator=gen(7), labels=torch.full((400,), label))
        assert at_mode(x, target, label) > 0.9
    # without labels: the data's class frequencies, both modes
    x = method.sample(800, generator=gen(8))
    assert 0.35 < at_mode(x, target, 0) < 0.65


def test_guidance_zero_is_the_unconditional_flow(cfm):
    target, method = cfm
    x = method.sample(800, generator=gen(9), labels=torch.zeros(800, dtype=torch.long),
                      guidance=0.0)  # fmt: skip
    assert 0.3 < at_mode(x, target, 0) < 0.7  # the label is ignored: both modes


def test_conditional_flow_is_deterministic_and_rejects_bad_labels(cfm):
    _, method = cfm
    a = method.sample(10, generator=gen(3), labels=torch.ones(10, dtype=torch.long))
    b = method.sample(10, generator=gen(3), labels=torch.ones(10, dtype=torch.long))
    assert torch.equal(a, b)
    with pytest.raises(ConfigError, match="classes 0..1"):
        method.sample(3, generator=gen(3), labels=torch.tensor([0, 1, 2]))


def test_conditional_snapshot_has_a_class_grid(cfm):
    _, method = cfm
    sets = method.snapshot(50, gen(10))
    assert sets["classes/generated"].shape == (20, 2)  # 10 of each of the 2 classes
    assert "classes" in method.panels


def test_unconditional_flow_takes_no_labels():
    target = make_distribution("bimodal")
    fm = FlowMatching(target, None, FlowMatching.Config(), NetConfig(8, 1), gen())
    with pytest.raises(ConfigError, match="unconditional"):
        fm.sample(2, generator=gen(), labels=torch.tensor([0, 1]))


def test_guidance_sweep_accuracy_rises_with_the_scale(cfm):
    target, method = cfm
    table = guidance_sweep(method, target, [0.0, 1.0], n=400, seed=0)
    acc = [row["class_accuracy"] for row in table.rows]
    assert acc[0] < 0.7 < 0.9 < acc[1]
    assert "class_acc/1" in table.columns and table.rows[1]["guidance"] == 1.0


# ---- drifting: per-class fields, guidance through negatives --------------------------------


def _dense_with_extra(x, y_pos, extra, tau):
    """The authors' dense formula with negatives [x, extra] and x's self-pairs masked."""
    y_neg = torch.cat([x, extra])
    dist = torch.cdist(x, torch.cat([y_neg, y_pos]))
    dist[:, : len(x)].fill_diagonal_(1e6)
    k = (-dist / tau).exp()
    a = k / (k.sum(-1, keepdim=True) * k.sum(-2, keepdim=True)).sqrt()
    a_neg, a_pos = a[:, : len(y_neg)], a[:, len(y_neg) :]
    return (a_pos * a_neg.sum(-1, keepdim=True)) @ y_pos - (
        a_neg * a_pos.sum(-1, keepdim=True)
    ) @ y_neg


def test_extra_negatives_match_the_dense_formula():
    g = gen(11)
    x, y, u = (
        torch.randn(30, 3, generator=g),
        torch.randn(25, 3, generator=g) + 1,
        torch.randn(7, 3, generator=g),
    )
    shift, log_scale = drift_parts(
        x.double(), y.double(), None, temperature=0.8, extra_neg=u.double()
    )
    v = log_scale.exp().unsqueeze(1) * shift
    assert torch.allclose(v, _dense_with_extra(x.double(), y.double(), u.double(), 0.8), atol=1e-10)
    with pytest.raises(ValueError, match="y_neg=None"):
        drift_parts(x, y, y, temperature=0.8, extra_neg=u)


def test_extra_negatives_mean_distance_is_over_every_pair():
    g = gen(12)
    x, y, u = (
        torch.randn(10, 2, generator=g),
        torch.randn(8, 2, generator=g),
        torch.randn(4, 2, generator=g),
    )
    _, logs = drift(PaperField(), x, y, [1.0], extra_negatives=u, temperature_scale="mean-distance")
    d_xx = torch.cdist(x, x).sum() / (10 * 9)
    total = torch.cdist(x, y).sum() + torch.cdist(x, u).sum() + torch.cdist(x, x).sum()
    assert logs["mean_distance"] == pytest.approx(float(total / (80 + 40 + 90)), rel=1e-5)
    assert float(d_xx) > 0


def test_conditional_drifting_learns_each_class_and_guidance_sharpens():
    target = make_distribution("bimodal", **BIMODAL)
    config = Drifting.Config(conditional=True, guidance_max=3.0, temperatures=[0.1, 0.4])
    method = Drifting(target, None, config, NetConfig(64, 2), gen())
    fit(method, target, TrainConfig(steps=300, batch_size=128, lr=2e-3), progress=False)
    for label in (0, 1):
        x = method.sample(300, generator=gen(13), labels=torch.full((300,), label))
        assert at_mode(x, target, label) > 0.9
    spread = [
        float(
            method.sample(
                400, generator=gen(14), labels=torch.zeros(400, dtype=torch.long), guidance=w
            )
            .std(0)
            .norm()
        )  # fmt: skip
        for w in (1.0, 3.0)
    ]
    assert spread[1] < spread[0]  # α > 1 pushes away from the unconditional data: sharper
    with pytest.raises(ConfigError, match="trained for"):
        method.sample(2, generator=gen(), guidance=4.0)


def test_drifting_guidance_needs_a_conditional_paper_field():
    with pytest.raises(ValueError, match="guidance_max"):
        Drifting.Config(guidance_max=2.0)
    with pytest.raises(ValueError, match="must lie in"):
        Drifting.Config(conditional=True, guidance_max=2.0, guidance=2.5)
    with pytest.raises(ValueError, match='features = "none"'):
        Drifting.Config(conditional=True, features="autoencoder")


def test_unconditional_drifting_is_unchanged_by_the_keys():
    target = make_distribution("bimodal")
    a = Drifting(target, None, Drifting.Config(), NetConfig(16, 2), gen())
    b = Drifting(target, None, Drifting.Config(guidance=1.0), NetConfig(16, 2), gen())
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    assert a.f.layers[0].in_features == target.dim


# ---- chart transport: a prior per class -----------------------------------------------------


def test_prior_means_closed_form():
    assert torch.equal(prior_means(2, 3, 3.0), 3.0 * torch.eye(2, 3))
    low = prior_means(8, 2, 2.0)
    assert torch.allclose(low.norm(dim=1), torch.full((8,), 2.0))
    assert torch.equal(low, prior_means(8, 2, 2.0))  # a fixed seed: every run the same


def test_conditional_chart_transport_decodes_each_class_prior_to_its_class():
    target = make_distribution("bimodal", **BIMODAL)
    config = ChartTransport.Config(conditional=True, latent_dim=2, temperatures=[0.2, 0.5])
    method = ChartTransport(target, None, config, NetConfig(64, 2), gen())
    fit(method, target, TrainConfig(steps=400, batch_size=256, lr=2e-3), progress=False)
    for label in (0, 1):
        x = method.sample(300, generator=gen(15), labels=torch.full((300,), label))
        assert at_mode(x, target, label) > 0.9
    sets = method.snapshot(40, gen(16))
    assert sets["classes/generated"].shape == (20, 2)
    state = method.state_dict()
    assert torch.equal(state["latent.prior_means"], 3.0 * torch.eye(2))


def test_conditional_chart_needs_the_kernel_field():
    with pytest.raises(ValueError, match='latent = "drift"'):
        ChartTransport.Config(conditional=True, latent="score")


# ---- the CLI -------------------------------------------------------------------------------


def test_class_grid_cell_draws_a_row_per_class():
    from pushforward.methods.conditioning import CLASS_GRID
    from pushforward.report.figures import CLASS_COLUMNS, Cell, Drawer

    assert CLASS_COLUMNS == CLASS_GRID
    images = np.random.default_rng(0).random((100, 64), dtype=np.float32)
    cell = Cell("classes", [{"generated": images}], image_shape=(8, 8), max_images=100,
                columns=CLASS_COLUMNS)  # fmt: skip
    drawer = Drawer(cell, max_points=1000, max_arrows=10)
    assert (drawer.n_images, drawer.grid) == (100, 10)
    assert drawer.tile == (10 * 9 - 1, 10 * 9 - 1)


def test_cli_conditional_run_and_guidance_sweep(tmp_path, capsys):
    out = tmp_path / "cfm"
    assert main(["run", "fm-bimodal", "--steps", "30", "--out", str(out), "--quiet",
                 "--set", "method.conditional=true"]) == 0  # fmt: skip
    assert main(["guidance", str(out), "--scales", "0,1,2", "-n", "100"]) == 0
    text = capsys.readouterr().out
    assert "class_accuracy" in text and "--scales 0,1,2" in text
    assert "Samples by class" in (out / "report.html").read_text()
    rows = json.loads((out / "guidance.json").read_text())["rows"]
    assert [r["guidance"] for r in rows] == [0.0, 1.0, 2.0]


def test_guidance_sweep_refuses_an_unconditional_method():
    target = make_distribution("bimodal")
    fm = FlowMatching(target, None, FlowMatching.Config(), NetConfig(8, 1), gen())
    with pytest.raises(ConfigError, match="method.conditional = true"):
        guidance_sweep(fm, target, [1.0], n=20)
