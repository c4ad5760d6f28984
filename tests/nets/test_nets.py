"""Networks: shapes, time conditioning, seeded initialisation, charts' fibers, the DSM critic."""

from __future__ import annotations

import math

import pytest
import torch

from pushforward.nets import MLP, NetConfig, TimeEmbedding
from pushforward.nets.chart import LOG_STD_RANGE, Chart
from pushforward.nets.critic import ScoreCritic


def _g(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_mlp_shapes_widths_and_seeded_init():
    net = MLP(3, 5, NetConfig(width=16, depth=3), generator=_g())
    assert net(torch.zeros(7, 3)).shape == (7, 5)
    linears = [m for m in net.modules() if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [
        (3, 16),
        (16, 16),
        (16, 16),
        (16, 5),
    ]
    same = MLP(3, 5, NetConfig(width=16, depth=3), generator=_g())
    other = MLP(3, 5, NetConfig(width=16, depth=3), generator=_g(1))
    for a, b, c in zip(net.parameters(), same.parameters(), other.parameters(), strict=True):
        assert torch.equal(a, b) and not torch.equal(a, c)
    for m in linears:  # PyTorch's default range, drawn from our generator
        assert m.weight.abs().max() <= 1 / math.sqrt(m.in_features)
    assert MLP(2, 2, NetConfig(widths=[4, 8]), generator=_g()).last.in_features == 8


def test_time_conditioning_changes_the_output_and_is_required():
    net = MLP(2, 2, NetConfig(width=16, depth=2), time=True, generator=_g())
    x = torch.randn(4, 2, generator=_g(2))
    a, b = net(x, torch.zeros(4)), net(x, torch.full((4,), 0.5))
    assert not torch.allclose(a, b)
    torch.testing.assert_close(net(x, torch.tensor(0.5)), b)  # a scalar time broadcasts
    with pytest.raises(ValueError, match="time-conditioned"):
        net(x)


def test_sinusoidal_embedding_is_the_transformer_code():
    emb = TimeEmbedding(4, "sinusoidal", 1.0, _g())
    t = torch.tensor([0.0, 0.25])
    out = emb(t)
    freqs = 1000.0 * torch.exp(-math.log(10000.0) * torch.arange(2) / 2)
    angles = t[:, None] * freqs
    torch.testing.assert_close(out, torch.cat([angles.sin(), angles.cos()], 1))


def test_bad_net_config_is_refused():
    with pytest.raises(ValueError, match="activation"):
        NetConfig(activation="swishh")
    with pytest.raises(ValueError, match="time_dim"):
        NetConfig(time_dim=3)


def test_deterministic_chart_round_trip_shapes():
    chart = Chart(3, 2, NetConfig(width=16, depth=2), generator=_g())
    z, mu, log_std = chart.encode(torch.zeros(5, 3))
    assert log_std is None and torch.equal(z, mu) and chart.decode(z).shape == (5, 3)


def test_stochastic_chart_draws_from_its_fiber():
    chart = Chart(2, 2, NetConfig(width=16, depth=2), stochastic=True, init_std=0.3,
                  generator=_g())  # fmt: skip
    x = torch.zeros(20_000, 2)
    with torch.no_grad():
        z, mu, log_std = chart.encode(x, _g(1))
    assert (
        log_std is not None
        and LOG_STD_RANGE[0] <= log_std.min() <= log_std.max() <= LOG_STD_RANGE[1]
    )
    # the head starts at log(init_std): the empirical spread of z around mu is that std
    std = (z - mu).std(0)
    torch.testing.assert_close(std, log_std[0].exp(), rtol=0.03, atol=0.0)
    assert abs(float(log_std.exp().mean()) - 0.3) < 0.05
    fixed = Chart(2, 2, NetConfig(width=16, depth=2), stochastic=True, fiber_std=0.1,
                  generator=_g())  # fmt: skip
    _, _, fixed_log_std = fixed.encode(x[:3], _g(1))
    torch.testing.assert_close(fixed_log_std.exp(), torch.full((3, 2), 0.1))


def test_dsm_critic_learns_the_score_of_a_gaussian():
    """Latents N(0, s²I) smoothed at σ have score −z/(s² + σ²): the trained critic finds it."""
    s, sigmas = 0.5, [0.2, 0.4]
    critic = ScoreCritic(2, NetConfig(width=64, depth=2), sigmas, generator=_g())
    opt = torch.optim.Adam(critic.parameters(), lr=3e-3)
    g = _g(3)
    for _ in range(1500):
        z = s * torch.randn(256, 2, generator=g)
        loss = critic.dsm_loss(z, g)
        opt.zero_grad()
        loss.backward()
        opt.step()
    z = s * torch.randn(2000, 2, generator=_g(4))
    for sigma in sigmas:
        level = torch.full((2000,), sigma)
        noisy = z + sigma * torch.randn(2000, 2, generator=_g(5))
        exact = -noisy / (s**2 + sigma**2)
        with torch.no_grad():
            err = (critic.score(noisy, level) - exact).square().sum(1).mean().sqrt()
        scale = exact.square().sum(1).mean().sqrt()
        assert err / scale < 0.15, (sigma, float(err / scale))
