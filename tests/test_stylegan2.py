import io

import torch
from safetensors.torch import load, save

from deepsc.models.stylegan2 import Discriminator, Generator, make_kernel, upfirdn2d

TINY_CHANNELS = {4: 16, 8: 16, 16: 8, 32: 8}


def tiny_generator(seed: int = 0) -> Generator:
    torch.manual_seed(seed)
    return Generator(32, 16, 2, channels=TINY_CHANNELS).eval()


def test_generator_output_shape():
    generator = tiny_generator()
    images = generator(torch.randn(3, 16))
    assert images.shape == (3, 3, 32, 32)
    assert generator.n_latent == 8


def test_generator_state_dict_round_trip():
    generator = tiny_generator(seed=1)
    blob = save({k: v.contiguous() for k, v in generator.state_dict().items()})
    restored = tiny_generator(seed=2)
    z = torch.randn(2, 16)
    assert not torch.allclose(generator(z), restored(z))
    restored.load_state_dict(load(blob), strict=True)
    assert torch.equal(generator(z), restored(z))


def test_generator_torch_save_round_trip():
    generator = tiny_generator(seed=3)
    buffer = io.BytesIO()
    torch.save(generator.state_dict(), buffer)
    buffer.seek(0)
    restored = tiny_generator(seed=4)
    restored.load_state_dict(torch.load(buffer, weights_only=True))
    w = torch.randn(2, 16)
    assert torch.equal(generator.synthesis(w), restored.synthesis(w))


def test_const_noise_is_deterministic():
    generator = tiny_generator()
    w = torch.randn(1, 16)
    assert torch.equal(generator.synthesis(w), generator.synthesis(w))


def test_rosinality_parameter_names_at_128():
    # The published Talk-to-Edit 128×128 StyleGAN2: style_dim 512, 8 mapping layers, multiplier 1.
    generator = Generator(128, 512, 8, channel_multiplier=1)
    keys = set(generator.state_dict())
    expected = {
        "style.1.weight",
        "style.1.bias",
        "style.8.weight",
        "style.8.bias",
        "input.input",
        "conv1.conv.weight",
        "conv1.conv.modulation.weight",
        "conv1.conv.modulation.bias",
        "conv1.noise.weight",
        "conv1.activate.bias",
        "to_rgb1.conv.weight",
        "to_rgb1.conv.modulation.weight",
        "to_rgb1.bias",
        "convs.0.conv.weight",
        "convs.0.conv.blur.kernel",
        "convs.9.activate.bias",
        "to_rgbs.0.upsample.kernel",
        "to_rgbs.4.conv.weight",
        "noises.noise_0",
        "noises.noise_10",
    }
    assert expected <= keys
    assert "convs.10.conv.weight" not in keys
    assert generator.state_dict()["convs.0.conv.weight"].shape == (1, 512, 512, 3, 3)
    assert generator.state_dict()["convs.8.conv.weight"].shape == (1, 128, 256, 3, 3)
    assert generator.state_dict()["noises.noise_10"].shape == (1, 1, 128, 128)
    assert generator.n_latent == 12


def test_discriminator_names_and_output():
    discriminator = Discriminator(32, channels=TINY_CHANNELS)
    keys = set(discriminator.state_dict())
    assert {
        "convs.0.0.weight",
        "convs.0.1.bias",
        "convs.1.conv1.0.weight",
        "convs.1.conv2.0.kernel",
        "convs.1.conv2.1.weight",
        "convs.1.skip.1.weight",
        "final_conv.0.weight",
        "final_linear.0.weight",
        "final_linear.1.bias",
    } <= keys
    scores = discriminator(torch.randn(4, 3, 32, 32))
    assert scores.shape == (4, 1)


def test_upfirdn2d_upsampling_preserves_constant():
    kernel = make_kernel([1, 3, 3, 1]) * 4
    x = torch.ones(1, 2, 8, 8)
    up = upfirdn2d(x, kernel, up=2, pad=(2, 1))
    assert up.shape == (1, 2, 16, 16)
    assert torch.allclose(up[..., 2:-2, 2:-2], torch.ones_like(up[..., 2:-2, 2:-2]))


def test_upfirdn2d_matches_conv_for_plain_filter():
    kernel = make_kernel([1, 2, 1])
    x = torch.randn(1, 1, 6, 6)
    filtered = upfirdn2d(x, kernel, pad=(1, 1))
    reference = torch.nn.functional.conv2d(x, kernel.flip([0, 1]).view(1, 1, 3, 3), padding=1)
    assert torch.allclose(filtered, reference, atol=1e-6)
