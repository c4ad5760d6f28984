"""`pushforward drift-variants`: a two-step smoke run of the map and the arrows figure."""

from pushforward.cli import main


def test_drift_variants_map_and_arrows_smoke(tmp_path):
    out = tmp_path / "dv"
    args = ["drift-variants", "map", "--steps", "2", "--seeds", "0", "--out", str(out)]
    grid = ["--variants", "paper,sinkhorn", "--geometry", "4:2.5", "--temperatures", "0.05:0.2"]
    assert main([*args, *grid]) == 0
    text = (out / "drift_variants_map.md").read_text()
    assert "| paper |" in text and "| sinkhorn |" in text
    assert (out / "drift_variants_map.png").stat().st_size > 0
    run = out / "runs" / "paper" / "sep=4,dist=2.5,tau=0.05-0.2" / "seed=0"
    assert main(["drift-variants", "arrows", "--run", str(run), "--out", str(out)]) == 0
    assert (out / "drift_variants_arrows.png").stat().st_size > 0
