import pytest

from deepsc.attributes import ATTRIBUTES
from deepsc.instruction import EditRequest, InstructionError, parse_instruction

CASES = [
    ("Give her thick glasses.", "eyeglasses", "target", 2, None),
    ("Give her tinted glasses", "eyeglasses", "target", 4, None),
    ("Put some sunglasses on him", "eyeglasses", "target", 5, None),
    ("Remove the glasses", "eyeglasses", "target", 0, None),
    ("make her smile a bit more", "smile", "change", None, 1),
    ("Make him smile much more", "smile", "change", None, 3),
    ("less smile please", "smile", "change", None, -2),
    ("I want a big smile", "smile", "target", 5, None),
    ("shorter bangs", "bangs", "change", None, -2),
    ("Let the bangs be long", "bangs", "target", 5, None),
    ("no beard", "beard", "target", 0, None),
    ("Add a full beard", "beard", "target", 5, None),
    ("Make her look older", "age", "change", None, 2),
    ("make him a bit younger", "age", "change", None, -1),
    ("Make her very old", "age", "target", 5, None),
]


@pytest.mark.parametrize(("text", "attribute", "mode", "degree", "amount"), CASES)
def test_parse_instruction(text, attribute, mode, degree, amount):
    request = parse_instruction(text)
    assert request.attribute == attribute
    assert request.mode == mode
    assert request.degree == degree
    assert request.amount == amount


@pytest.mark.parametrize("text", ["Paint the sky purple", "", "   ", "make the car faster"])
def test_unrelated_instruction_rejected(text):
    with pytest.raises(InstructionError) as error:
        parse_instruction(text)
    for attribute in ATTRIBUTES:
        assert attribute in str(error.value)


def test_target_degree_clamped():
    assert EditRequest("smile", "change", amount=3).target_degree(4) == 5
    assert EditRequest("smile", "change", amount=-2).target_degree(1) == 0
    assert EditRequest("smile", "target", degree=2).target_degree(5) == 2
