import json
import subprocess
import sys

import pytest

from deepsc.cli import main

SUMMARY_KEYS = {
    "instruction",
    "attribute",
    "degree_before",
    "degree_target",
    "degree_after",
    "snr_db",
    "channel",
    "latent_space",
    "symbols",
    "channel_uses",
    "cbr",
    "cbr_complex",
    "warnings",
    "timings_s",
    "bundle",
}


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "deepsc.cli", *args], capture_output=True, text=True, timeout=600)


def test_edit_tiny_bundle_end_to_end(tiny_bundle, small_photo_path, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(
        [
            "edit",
            str(small_photo_path),
            "--instruction",
            "make her smile a bit more",
            "--bundle",
            str(tiny_bundle),
            "--out",
            str(out),
            "--inversion-steps",
            "3",
            "--json",
        ]
    )
    assert code == 0
    for name in ("original.png", "reconstruction.png", "edited.png", "summary.json"):
        assert (out / name).exists(), name
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary) >= SUMMARY_KEYS
    assert summary["symbols"] == 16
    assert summary["channel_uses"] == 8
    assert summary["cbr"] == pytest.approx(16 / (32 * 32 * 3))
    assert set(summary["timings_s"]) == {"inversion", "editing", "channel", "synthesis", "total"}
    printed = capsys.readouterr().out.strip().splitlines()[-1]
    assert json.loads(printed) == summary


@pytest.mark.parametrize("space", ["w", "z"])
@pytest.mark.parametrize("channel", ["none", "rayleigh"])
def test_edit_options_reach_summary(tiny_bundle, small_photo_path, tmp_path, space, channel):
    out = tmp_path / "out"
    code = main(
        [
            "edit",
            str(small_photo_path),
            "--instruction",
            "no beard",
            "--bundle",
            str(tiny_bundle),
            "--out",
            str(out),
            "--inversion-steps",
            "2",
            "--latent-space",
            space,
            "--channel",
            channel,
            "--snr-db",
            "3",
            "--seed",
            "7",
        ]
    )
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["latent_space"] == space
    assert summary["channel"] == channel
    assert summary["snr_db"] == 3.0


def test_edit_missing_file_exits_with_one_line(tmp_path):
    result = _run("edit", str(tmp_path / "nope.png"), "--instruction", "Give her thick glasses.")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "not found" in lines[0]


def test_edit_non_image_exits_with_one_line(not_an_image):
    result = _run("edit", str(not_an_image), "--instruction", "Give her thick glasses.")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "not a readable image" in lines[0]


def test_edit_unrelated_instruction_exits(small_photo_path, tiny_bundle):
    result = _run("edit", str(small_photo_path), "--instruction", "paint the sky purple", "--bundle", str(tiny_bundle))
    assert result.returncode == 2
    assert "eyeglasses" in result.stderr


def test_edit_unknown_bundle_exits(small_photo_path, tmp_path):
    result = _run("edit", str(small_photo_path), "--instruction", "add glasses", "--bundle", str(tmp_path / "none"))
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1
    assert "not found" in result.stderr


def test_parse_json_rule_based(tiny_bundle, capsys):
    # The tiny bundle has no text encoder, so the rule-based parser reads the instruction.
    assert main(["parse", "Give her thick glasses.", "--json", "--bundle", str(tiny_bundle)]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "attribute": "eyeglasses",
        "mode": "target",
        "degree": 2,
        "amount": None,
    }


def test_parse_rejects_with_editable_list(tiny_bundle, capsys):
    assert main(["parse", "paint the sky purple", "--bundle", str(tiny_bundle)]) == 2
    message = capsys.readouterr().err
    for attribute in ("bangs", "eyeglasses", "beard", "smile", "age"):
        assert attribute in message


def test_parse_with_text_encoder(capsys):
    # synthetic-64 ships the LSTM text semantic encoder.
    assert main(["parse", "Give her thick glasses.", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "attribute": "eyeglasses",
        "mode": "target",
        "degree": 2,
        "amount": None,
    }
    assert main(["parse", "make her smile a bit more", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"attribute": "smile", "mode": "change", "degree": None, "amount": 1}


def test_parse_stdin_lines(monkeypatch, capsys):
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("Give her thick glasses.\n\npaint the sky purple\nno beard\n"))
    assert main(["parse", "-"]) == 2
    lines = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    assert len(lines) == 3
    assert lines[0]["attribute"] == "eyeglasses"
    assert "error" in lines[1]
    assert "eyeglasses" in lines[1]["error"]
    assert lines[2] == {"instruction": "no beard", "attribute": "beard", "mode": "target", "degree": 0, "amount": None}


@pytest.mark.parametrize("text", ["asdfgh", "xyz xyz", "make her taller", "turn the lights off"])
def test_parse_rejects_text_without_attribute(text, capsys):
    assert main(["parse", text]) == 2
    assert "nothing this model can edit" in capsys.readouterr().err


def test_usage_error_is_one_line(tmp_path):
    result = _run("edit", str(tmp_path / "x.png"), "--instruction", "add glasses", "--channel", "bogus")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "invalid choice: 'bogus'" in lines[0]


def test_submit_rejects_out_of_range_seed(small_photo_path, capsys):
    assert (
        main(["submit", str(small_photo_path), "--instruction", "add glasses", "--protocol", "grpc", "--seed", "-1"])
        == 2
    )
    assert "invalid seed -1" in capsys.readouterr().err


def test_parse_stdin_errors_go_to_stderr(monkeypatch, capsys):
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("asdfgh\n"))
    assert main(["parse", "-"]) == 2
    captured = capsys.readouterr()
    assert "error" in json.loads(captured.out)
    assert "nothing this model can edit" in captured.err
