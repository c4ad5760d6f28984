"""Intrinsic dimension against noise level and neighbourhood size (`pushforward intrinsic-dim`)."""

import json

import pytest
import torch

from pushforward.cli import main
from pushforward.studies.intrinsic import intrinsic_curves


def test_a_plane_in_r6_reads_2_without_noise_and_climbs_to_6_under_large_noise():
    g = torch.Generator().manual_seed(0)
    plane = torch.cat([torch.randn(2000, 2, generator=g), torch.zeros(2000, 4)], 1)
    noise, scale = intrinsic_curves(plane, [0.0, 0.01, 10.0], [5, 20], generator=g)
    clean, tiny, loud = noise.rows
    assert clean["id_mle_k20"] == pytest.approx(2.0, abs=0.15)
    assert clean["id_twonn"] == pytest.approx(2.0, abs=0.15)
    # noise far below the neighbour spacing (≈ 0.1) adds 4 thin directions the k-NN barely see
    assert tiny["id_mle_k20"] < 2.5
    # noise 10x the plane's own spread: isotropic in R^6
    assert loud["id_mle_k20"] == pytest.approx(6.0, abs=0.6)
    assert loud["noise_norm"] == pytest.approx(10.0 * 6**0.5)
    assert [r["k"] for r in scale.rows] == [5, 20]
    assert scale.rows[0]["scale"] < scale.rows[1]["scale"]


def test_the_command_writes_both_tables_and_the_plot(tmp_path, capsys):
    out = tmp_path / "id"
    assert main(["intrinsic-dim", "swissroll3d", "-n", "300", "--noise", "0,0.5",
                 "--k", "5,10", "--out", str(out)]) == 0  # fmt: skip
    rows = json.loads((out / "intrinsic_noise.json").read_text())["rows"]
    assert [r["noise_std"] for r in rows] == [0.0, 0.5]
    assert rows[0]["id_mle_k10"] == pytest.approx(2.0, abs=0.3)  # a surface
    assert (out / "intrinsic.png").stat().st_size > 2000
    assert "id_twonn" in capsys.readouterr().out
    assert main(["intrinsic-dim", "swissroll3d", "-n", "60", "--k", "100", "--out",
                 str(out)]) == 2  # fmt: skip
