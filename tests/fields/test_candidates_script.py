"""scripts/field_candidates.py: each candidate's pass is checked against float64 and timed."""

import importlib.util
from pathlib import Path

import pytest

from pushforward.fields import fused

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "field_candidates.py"
spec = importlib.util.spec_from_file_location("field_candidates", SCRIPT)
field_candidates = importlib.util.module_from_spec(spec)
spec.loader.exec_module(field_candidates)


@pytest.mark.skipif(not fused.available(), reason=f"no fused kernels: {fused.reason()}")
def test_the_table_has_a_row_per_candidate_with_small_errors(capsys):
    field_candidates.main(["--n", "300", "--only", "torch (dense)", "fused", "keops"])
    rows = [line.split(" | ") for line in capsys.readouterr().out.splitlines() if line[:2] == "| "]
    by_name = {r[0][2:]: r for r in rows[1:]}  # after the header
    assert set(by_name) == {"torch (dense)", "fused", "keops"}
    assert float(by_name["fused"][2]) > 0
    assert float(by_name["fused"][3].rstrip(" |")) < 1e-4  # against the float64 log-sum-exps
    if "not installed" not in by_name["keops"][2]:
        assert float(by_name["keops"][3].rstrip(" |")) < 1e-4
