"""The benchmark commands run and report what they promise (their numbers are recorded elsewhere)."""

import functools
import json
import math
import shlex

import pytest
import torch

from benchmarks import latency
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


def test_latency_times_every_stage(tiny_bundle):
    # Few inversion steps and no warm-up keep this fast. The numbers themselves are not checked.
    results = latency.measure(str(tiny_bundle), jobs=2, inversion_steps=3, warmup=0)
    assert results["jobs"] == 2
    assert results["inversion_steps"] == 3
    assert results["instructions"] == list(latency.INSTRUCTIONS)
    assert set(results["stages"]) == set(latency.STAGES)
    for stage, row in results["stages"].items():
        assert set(row) == {"median_s", "p90_s", "samples_s"}, stage
        assert len(row["samples_s"]) == 2, stage
        for value in [row["median_s"], row["p90_s"], *row["samples_s"]]:
            assert isinstance(value, float), stage
            assert math.isfinite(value), stage
            assert value > 0, stage
        assert row["median_s"] <= row["p90_s"], stage


def test_latency_reports_peak_memory(tiny_bundle):
    memory = latency.measure(str(tiny_bundle), jobs=1, inversion_steps=1, warmup=0)["memory"]
    assert memory["max_rss_mib"] > 0
    assert memory["max_rss_before_load_mib"] <= memory["max_rss_after_load_mib"] <= memory["max_rss_mib"]
    growth = memory["max_rss_mib"] - memory["max_rss_after_load_mib"]
    assert memory["max_rss_growth_mib"] == pytest.approx(growth, abs=0.11)


def test_latency_command_records_hardware(tiny_bundle, tmp_path, monkeypatch, capsys):
    # The real measure, shortened: the command line has no option for the inversion steps.
    monkeypatch.setattr(latency, "measure", functools.partial(latency.measure, inversion_steps=1, warmup=0))
    out = tmp_path / "results" / "latency.json"
    argv = ["latency", "--bundle", str(tiny_bundle), "--jobs", "1", "--threads", "1", "--json", "--out", str(out)]
    monkeypatch.setattr("sys.argv", argv)
    threads = torch.get_num_threads()
    try:
        latency.main()
    finally:
        torch.set_num_threads(threads)

    printed = json.loads(capsys.readouterr().out)
    written = json.loads(out.read_text())
    assert printed == written
    expected = ["python", "-m", "benchmarks.latency", "--bundle", str(tiny_bundle), "--jobs", "1", "--threads", "1"]
    assert written["command"] == shlex.join(expected)
    assert set(written["hardware"]) == {"platform", "machine", "processor", "cpu_count", "torch", "torch_threads"}
    assert written["hardware"]["torch_threads"] == 1
    assert written["hardware"]["torch"] == torch.__version__
    assert set(written["stages"]) == set(latency.STAGES)
    assert written["seconds"] >= 0


def test_latency_rejects_missing_bundle(tmp_path, monkeypatch):
    missing = tmp_path / "no-bundle"
    monkeypatch.setattr("sys.argv", ["latency", "--bundle", str(missing), "--jobs", "1"])

    with pytest.raises(SystemExit) as exit_info:
        latency.main()

    message = str(exit_info.value.code)
    assert message.startswith("benchmarks.latency: error: bundle")
    assert str(missing) in message
    assert "\n" not in message
