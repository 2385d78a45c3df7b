"""The Semantic Editing Module: target computation, the field loop and output determination."""

import threading

import pytest
import torch

from deepsc.attributes import ATTRIBUTES
from deepsc.bundle import load_bundle
from deepsc.editing import (
    EditConfig,
    SemanticEditor,
    SimulatedChannel,
    predict_degrees,
    synthesise,
    target_attribute,
)
from deepsc.instruction import EditRequest, InstructionError, parse_follow_up
from deepsc.inversion import Interrupted
from deepsc.models.semantic_field import SemanticFields


@pytest.mark.parametrize(
    ("request_", "current", "expected"),
    [
        (EditRequest("smile", "change", amount=2), 1, 3),
        (EditRequest("smile", "change", amount=3), 4, 5),
        (EditRequest("age", "change", amount=-3), 1, 0),
        (EditRequest("eyeglasses", "target", degree=2), 5, 2),
    ],
)
def test_target_attribute_computation_clamps(request_, current, expected):
    assert target_attribute(request_, current) == expected


def test_untrained_field_is_the_constant_direction():
    torch.manual_seed(0)
    fields = SemanticFields("w", 16, identity_dim=8, text_dim=4, hidden=32)
    fields.set_statistics(torch.randn(16), torch.rand(16) + 0.5)
    directions = torch.randn(5, 16)
    fields.set_base(directions)
    step = fields("beard", torch.randn(3, 16), torch.randn(3, 8), torch.randn(3, 4))
    torch.testing.assert_close(step, directions[2].expand(3, 16))


@pytest.fixture(scope="module")
def field_bundle(tiny_field_bundle):
    return load_bundle(tiny_field_bundle)


def _editor(bundle, **config):
    return bundle.editor(EditConfig(**config))


@pytest.mark.parametrize("space", ["w", "z"])
def test_field_loop_returns_the_closest_latent_it_visited(field_bundle, space):
    editor = _editor(field_bundle, max_steps=6)
    torch.manual_seed(3)
    latent = torch.randn(1, 16) if space == "z" else field_bundle.generator.mapping(torch.randn(1, 16))
    visited = []
    for attribute in ATTRIBUTES:
        visited.clear()
        result = editor.edit(
            latent,
            EditRequest(attribute, "target", degree=5),
            callback=lambda step, total, degree: visited.append(degree),
            latent_space=space,
            text_embedding=torch.randn(1, 8),
        )
        index = ATTRIBUTES.index(attribute)
        assert result.degree_target == 5
        # Output determination: no visited latent came closer to the target than the one returned.
        gaps = [abs(degree - 5) for degree in [result.degree_before, *visited]]
        assert abs(result.degree_reached - 5) == min(gaps)
        assert int(predict_degrees(field_bundle.generator, field_bundle.predictor, result.latent, space)[0, index]) == (
            result.degree_reached
        )
        assert result.stopped in ("match", "overshoot", "max_steps", "no_change")
        assert result.steps <= 6


def test_decrease_takes_the_negative_field_step(field_bundle):
    editor = _editor(field_bundle, max_steps=1, refinements=0)
    torch.manual_seed(5)
    latent = field_bundle.generator.mapping(torch.randn(1, 16))
    images = synthesise(field_bundle.generator, latent)
    degrees = field_bundle.predictor.predict_degrees(images)[0]
    index = int(torch.argmax(degrees))
    assert degrees[index] > 0, "the seeded face needs one attribute above degree 0"
    attribute, text = ATTRIBUTES[index], torch.zeros(1, 8)

    visited = []
    result = editor.edit(
        latent,
        EditRequest(attribute, "target", degree=0),
        callback=lambda step, total, degree: visited.append(degree),
        text_embedding=text,
    )
    stepped = latent - field_bundle.fields["w"](attribute, latent, field_bundle.identity(images), text)
    reached = int(predict_degrees(field_bundle.generator, field_bundle.predictor, stepped)[0, index])
    assert visited == [reached]
    if reached == int(degrees[index]):
        # Equal distance to the target: output determination keeps the more confident latent.
        assert any(torch.allclose(result.latent, option) for option in (stepped, latent))
    else:
        torch.testing.assert_close(result.latent, stepped if reached < int(degrees[index]) else latent)


def test_edit_stops_when_interrupted(field_bundle):
    editor = _editor(field_bundle)
    stop = threading.Event()
    stop.set()
    latent = field_bundle.generator.mapping(torch.randn(1, 16))
    current = int(predict_degrees(field_bundle.generator, field_bundle.predictor, latent)[0, 3])
    with pytest.raises(Interrupted):
        editor.edit(latent, EditRequest("smile", "target", degree=0 if current else 5), interrupt=stop)


def test_zero_channel_samples_skip_simulation(field_bundle):
    torch.manual_seed(13)
    latent = field_bundle.generator.mapping(torch.randn(1, 16))
    request = EditRequest("beard", "target", degree=5)
    channel = SimulatedChannel(field_bundle.latent_stats("w"), 6.0)
    first = _editor(field_bundle, channel_samples=0).edit(latent, request, channel=channel)
    second = _editor(field_bundle).edit(latent, request)
    torch.testing.assert_close(first.latent, second.latent)
    assert first.expected_success is None


@pytest.mark.parametrize("space", ["w", "z"])
def test_refinement_never_worsens_simulated_degrees(field_bundle, space):
    channel = SimulatedChannel(field_bundle.latent_stats(space), 3.0)
    determined = _editor(field_bundle, channel_samples=6, refine_steps=0)
    refined = _editor(field_bundle, channel_samples=6, refine_steps=4, refine_lr=0.2)
    torch.manual_seed(17)
    changed = 0
    for attribute in ATTRIBUTES:
        latent = torch.randn(1, 16)
        if space == "w":
            latent = field_bundle.generator.mapping(latent)
        request = EditRequest(attribute, "change", amount=2)
        first = determined.edit(latent, request, latent_space=space, channel=channel)
        second = refined.edit(latent, request, latent_space=space, channel=channel)
        if first.stopped == "no_change":
            continue

        # Both are scored on the same simulated receptions. The refinement replaces the determined
        # latent only when the five degrees land no further from what the user wants.
        desired = torch.tensor([first.degrees_before[name] for name in ATTRIBUTES])
        desired[ATTRIBUTES.index(attribute)] = first.degree_target
        index = ATTRIBUTES.index(attribute)
        hits_first, error_first = refined.score_receptions(first.latent, index, desired, space, channel)
        hits_second, error_second = refined.score_receptions(second.latent, index, desired, space, channel)
        assert error_second <= error_first
        assert second.expected_success == pytest.approx(hits_second)
        assert first.expected_success == pytest.approx(hits_first)
        changed += not torch.equal(first.latent, second.latent)
    assert changed > 0, "the refinement never replaced a latent; the test checks nothing"


def test_refinement_stops_when_interrupted(field_bundle):
    stop = threading.Event()

    def interrupt_after_first_step(step, max_steps, degree):
        stop.set()
        return False

    editor = _editor(field_bundle, channel_samples=4, refine_steps=3)
    channel = SimulatedChannel(field_bundle.latent_stats("w"), 6.0)
    torch.manual_seed(19)
    latent = field_bundle.generator.mapping(torch.randn(1, 16))
    current = int(predict_degrees(field_bundle.generator, field_bundle.predictor, latent)[0, 0])
    request = EditRequest("bangs", "target", degree=0 if current else 5)
    with pytest.raises(Interrupted, match="refinement"):
        editor.edit(latent, request, callback=interrupt_after_first_step, interrupt=stop, channel=channel)


def test_z_edit_without_a_z_field_is_refused(tiny_bundle):
    bundle = load_bundle(tiny_bundle)
    editor = SemanticEditor(bundle.generator, bundle.predictor, bundle.directions)
    with pytest.raises(ValueError, match="no semantic field"):
        editor.edit(torch.randn(1, 16), EditRequest("age", "change", amount=1), latent_space="z")


@pytest.mark.parametrize(
    ("text", "amount"),
    [("a bit more", 1), ("more", 1), ("much more", 2), ("less", -1), ("a little less please", -1), ("way less", -2)],
)
def test_follow_up_changes_the_previous_attribute(text, amount):
    previous = EditRequest("smile", "target", degree=3)
    assert parse_follow_up(text, previous) == EditRequest("smile", "change", amount=amount)


def test_follow_up_again_and_nonsense():
    previous = EditRequest("beard", "change", amount=-2)
    assert parse_follow_up("again", previous) == previous
    with pytest.raises(InstructionError, match="follow-up"):
        parse_follow_up("hello there", previous)
