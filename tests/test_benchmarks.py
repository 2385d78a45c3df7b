"""The benchmark commands run and report what they promise (their numbers are recorded elsewhere)."""

from benchmarks.degree_preservation import SNRS_DB, measure
from deepsc.attributes import ATTRIBUTES


def test_degree_preservation_covers_spaces_and_snrs(tiny_bundle):
    results = measure(str(tiny_bundle), faces=6)
    # The tiny bundle has no power allocation: only the plain schemes run.
    assert set(results) == {"w", "z"}
    for space in ("w", "z"):
        assert set(results[space]) == {"plain"}
        rows = results[space]["plain"]
        assert set(rows) == {str(int(snr)) for snr in SNRS_DB}
        for row in rows.values():
            assert set(row["kept"]) == set(ATTRIBUTES)
            assert all(0.0 <= value <= 1.0 for value in row["kept"].values())
            assert row["mean_abs_change"] >= 0.0
