"""The overview's latency percentiles: PostgreSQL's percentile_cont and the portable twin agree,
on figures computed by hand."""

import pytest

from oversight import storage
from tests.oversight.conftest import make_decision, make_explanation

pytestmark = pytest.mark.django_db


def test_both_paths_give_the_hand_computed_percentiles(credit_version):
    assert storage.explanation_latency_percentiles(credit_version) == (None, None)
    for seconds in (1.0, 2.0, 3.0, 4.0, 10.0):
        make_explanation(make_decision(credit_version, features={}, favourable=True), {}, seconds=seconds)
    # Linear interpolation: p50 is the middle value, p95 lies 80% of the way from 4 to 10.
    expected = (3.0, 4.0 + 0.8 * 6.0)
    assert storage.explanation_latency_percentiles(credit_version) == pytest.approx(expected)
    assert storage.explanation_latency_percentiles_portable(credit_version) == pytest.approx(expected)
