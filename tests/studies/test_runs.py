"""studies.runs: the data floor of either evaluation suite and its refusals."""

import pytest

from pushforward.analysis.quality import EVAL_STREAMS, full_metrics, quality
from pushforward.data import make_distribution
from pushforward.errors import ConfigError
from pushforward.runtime import stream_generator
from pushforward.studies.runs import data_floor, reference


def test_the_data_floor_is_the_suite_on_fresh_data_drawn_where_samples_would_be():
    target = make_distribution("8gaussians")
    x = target.sample(500, stream_generator(3, EVAL_STREAMS["samples"]))
    ref = reference(target, 500, 3)
    want = quality(x, target, ref, generator=stream_generator(3, EVAL_STREAMS["metrics"]))
    assert data_floor(target, 500, 3) == want
    full = full_metrics(x, target, ref, generator=stream_generator(3, EVAL_STREAMS["metrics"]))
    assert data_floor(target, 500, 3, suite="full") == full
    assert set(full) > set(want)  # the full suite adds metrics to the distances
    with pytest.raises(ConfigError, match="unknown evaluation suite 'fast'"):
        data_floor(target, 500, 3, suite="fast")
