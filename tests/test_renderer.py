import torch

from deepsc.attributes import ATTRIBUTES
from deepsc.renderer import NUM_PARAM_DIMS, params_from_latent, render, sample_params


def test_render_shape_and_range():
    images = render(sample_params(5, torch.Generator().manual_seed(0)))
    assert images.shape == (5, 3, 64, 64)
    assert images.min() >= 0
    assert images.max() <= 1
    assert torch.isfinite(images).all()


def test_neighbouring_degrees_differ_by_many_pixels():
    # Median over 20 faces: a face's own colours can hide one step (blonde hair turning grey),
    # but a typical face must change visibly between every pair of neighbouring degrees.
    faces = [sample_params(1, torch.Generator().manual_seed(seed)) for seed in range(20)]
    for attribute in ATTRIBUTES:
        for degree in range(1, 6):
            changed = []
            for face in faces:
                before = render(face.with_degree(attribute, degree - 1))
                after = render(face.with_degree(attribute, degree))
                changed.append(int(((after - before).abs().amax(dim=1) > 0.05).sum()))
            median = sorted(changed)[len(changed) // 2]
            assert median >= 20, f"{attribute} {degree - 1}->{degree}: median {median} pixels changed"


def test_params_from_latent_is_scale_invariant():
    z = torch.randn(64, 128)
    first, scaled = params_from_latent(z), params_from_latent(z * 3.5)
    assert torch.equal(first.degrees, scaled.degrees)
    assert torch.allclose(first.identity, scaled.identity, atol=1e-5)
    assert first.identity.shape[1] + first.degrees.shape[1] == NUM_PARAM_DIMS


def test_params_from_latent_covers_all_degrees():
    degrees = params_from_latent(torch.randn(2000, 128)).degrees
    for column in range(len(ATTRIBUTES)):
        assert set(degrees[:, column].tolist()) == set(range(6))
