import numpy as np
import pytest
from PIL import Image

from deepsc.face import ImageError, align_face, load_image


def test_astronaut_face_is_detected(astronaut_path):
    aligned = align_face(load_image(astronaut_path), 64)
    assert aligned.image.shape == (64, 64, 3)
    assert aligned.warnings == []
    left, top, size = aligned.box
    # The astronaut's face sits in the upper middle of the 512×512 portrait.
    assert 120 < left + size / 2 < 280
    assert 60 < size < 400


def test_no_face_falls_back_to_centre_crop():
    flat = Image.fromarray(np.full((80, 120, 3), 128, dtype=np.uint8))
    aligned = align_face(flat, 64)
    assert aligned.box == (20, 0, 80)
    assert len(aligned.warnings) == 1
    assert "no face" in aligned.warnings[0]


def test_missing_file_rejected(tmp_path):
    with pytest.raises(ImageError, match="not found"):
        load_image(tmp_path / "missing.png")


def test_text_file_rejected(not_an_image):
    with pytest.raises(ImageError, match="not a readable image"):
        load_image(not_an_image)


def test_empty_bytes_rejected():
    with pytest.raises(ImageError, match="empty"):
        load_image(b"")


def test_grey_and_alpha_images_become_rgb(tmp_path):
    grey = tmp_path / "grey.png"
    Image.fromarray(np.zeros((40, 40), dtype=np.uint8)).save(grey)
    rgba = tmp_path / "rgba.png"
    Image.fromarray(np.zeros((40, 40, 4), dtype=np.uint8)).save(rgba)
    assert load_image(grey).mode == "RGB"
    assert load_image(rgba).mode == "RGB"


def test_tiny_image_rejected(tmp_path):
    path = tmp_path / "dot.png"
    Image.fromarray(np.zeros((1, 1, 3), dtype=np.uint8)).save(path)
    with pytest.raises(ImageError, match="too small"):
        load_image(path)


def test_unreadable_bytes_message_has_no_object_repr():
    with pytest.raises(ImageError) as error:
        load_image(b"plain text")
    assert "BytesIO" not in str(error.value)
    assert "unrecognised format" in str(error.value)
