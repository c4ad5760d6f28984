"""`pushforward latent-dim`: one row per (experiment, latent dimension), the plot with the IDs."""

import json

from pushforward.cli import main


def test_latent_dim_trains_each_dimension_and_plots_with_the_intrinsic_dimension(tmp_path):
    out = tmp_path / "ld"
    assert main(["latent-dim", "chart-bimodal", "--dims", "1,3", "--steps", "6", "--quiet",
                 "--set", "train.snapshots=2", "--set", "train.threads=1",
                 "--set", "train.snapshot_samples=100", "--out", str(out)]) == 0  # fmt: skip
    rows = json.loads((out / "latent_dim.json").read_text())["rows"]
    assert [(r["base"], r["latent_dim"]) for r in rows] == [("chart-bimodal", 1),
                                                              ("chart-bimodal", 3)]  # fmt: skip
    # the data's intrinsic dimension is measured from the 2-D data: about 2 in every row
    assert all(1.5 < r["data_id_mle_k20"]["mean"] < 2.5 for r in rows)
    config = (out / "chart-bimodal-k3" / "configs" / "chart-bimodal-k3-s0.toml").read_text()
    assert "latent_dim = 3" in config
    assert (out / "latent_dim.png").stat().st_size > 2000
