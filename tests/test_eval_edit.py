"""``deepsc eval-edit``: its JSON keys, its instruction mix, and --record."""

import json
import shutil

from deepsc.attributes import ATTRIBUTES
from deepsc.cli import main
from deepsc.edit_eval import eval_request


def test_instructions_cover_every_attribute_in_both_directions():
    seen = set()
    for index in range(60):
        for current in range(6):
            request = eval_request(index, current)
            target = request.target_degree(current)
            assert target != current, (index, current)
            seen.add((request.attribute, target > current))
    assert seen == {(name, up) for name in ATTRIBUTES for up in (True, False)}


def test_eval_edit_json_and_record(tiny_field_bundle, tmp_path, capsys):
    bundle = tmp_path / "bundle"
    shutil.copytree(tiny_field_bundle, bundle)
    for space in ("w", "z"):
        code = main(
            [
                "eval-edit",
                "--bundle",
                str(bundle),
                "--quick",
                "--faces",
                "5",
                "--latent-space",
                space,
                "--json",
                "--record",
            ]
        )
        assert code == 0
        result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert result["faces"] == 5
        assert result["latent_space"] == space
        assert result["field"] == "trained"
        for key in ("edit_success", "identity_similarity", "other_attribute_change"):
            assert set(result[key]) == {"18", "6", "0"}
        assert all(0.0 <= value <= 1.0 for value in result["edit_success"].values())
        assert all(-1.0 <= value <= 1.0 for value in result["identity_similarity"].values())
        assert all(0.0 <= value <= 5.0 for value in result["other_attribute_change"].values())
        manifest = json.loads((bundle / "bundle.json").read_text())
        assert manifest["metrics"][f"eval_edit_{space}"] == result
        assert f"deepsc eval-edit --latent-space {space}" in (bundle / "MODEL_CARD.md").read_text()


def test_eval_edit_rejects_bad_arguments(tiny_bundle, capsys):
    assert main(["eval-edit", "--bundle", str(tiny_bundle), "--faces", "0"]) == 2
    assert "--faces" in capsys.readouterr().err
    # The tiny bundle has no Z field to edit with.
    assert main(["eval-edit", "--bundle", str(tiny_bundle), "--quick", "--latent-space", "z"]) == 2
    assert "no semantic field" in capsys.readouterr().err
