"""Edit requests, and a rule-based instruction parser for bundles without a text encoder.

A request names an attribute and either an absolute degree ("give her thick glasses",
"no beard") or a change ("a bit more smile", "shorter bangs"). Bundles that ship a trained
text semantic encoder (``deepsc.models.text_encoder``) read instructions with it instead; the
keyword rules here keep small test bundles usable and follow the same degree meanings.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

from deepsc.attributes import ATTRIBUTES, MAX_DEGREE

EDITABLE_HELP = (
    "bangs (fringe), eyeglasses (glasses), beard, smile and age; for example "
    "'make her smile a bit more' or 'give him thick glasses'"
)


class InstructionError(ValueError):
    """The instruction names nothing the model can edit, or is empty."""


@dataclass
class EditRequest:
    """A parsed instruction.

    Attributes:
        attribute: one of ``ATTRIBUTES``.
        mode: "target" (reach ``degree``) or "change" (move by ``amount`` degrees).
        degree: the absolute degree 0..5 for a target, else None.
        amount: the signed number of degrees for a change, else None.
    """

    attribute: str
    mode: str
    degree: int | None = None
    amount: int | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    def target_degree(self, current: int) -> int:
        """Target attribute computation: the expected degree given the current one, clamped to 0..5."""
        if self.mode == "target":
            assert self.degree is not None
            return max(0, min(MAX_DEGREE, self.degree))
        assert self.amount is not None
        return max(0, min(MAX_DEGREE, current + self.amount))


_KEYWORDS: dict[str, tuple[str, ...]] = {
    "bangs": ("bang", "fringe", "forehead"),
    "eyeglasses": ("glasses", "eyeglass", "spectacle", "sunglass", "shades", "lens", "frame"),
    "beard": ("beard", "stubble", "moustache", "mustache", "goatee", "facial hair", "shav", "o'clock shadow"),
    "smile": ("smil", "grin", "laugh", "happ", "cheerful", "frown", "serious", "expression"),
    "age": (
        "age",
        "aged",
        "older",
        "old",
        "young",
        "youth",
        "elder",
        "wrinkl",
        "senior",
        "grey",
        "gray",
        "kid",
        "child",
        "teen",
        "twenties",
        "thirt",
        "forties",
        "fift",
        "sixties",
        "sevent",
        "eighties",
        "matur",
    ),
}


def mentions_editable_attribute(text: str) -> bool:
    """Return whether the text names one of the five attributes by a keyword (prefix match per word)."""
    cleaned = " ".join(text.lower().replace("’", "'").split())
    return any(
        re.search(r"\b" + re.escape(keyword), cleaned) for keywords in _KEYWORDS.values() for keyword in keywords
    )


# Words that set an absolute degree, per attribute (checked longest phrase first).
_ABSOLUTE: dict[str, dict[str, int]] = {
    "eyeglasses": {
        "sunglass": 5,
        "shades": 5,
        "dark": 5,
        "dark-tinted": 4,
        "dark tinted": 4,
        "tinted": 4,
        "lightly tinted": 3,
        "slightly tinted": 3,
        "light tint": 3,
        "thick": 2,
        "heavy": 2,
        "bold": 2,
        "thin": 1,
        "rimless": 1,
        "delicate": 1,
        "subtle": 1,
    },
    "bangs": {"long": 5, "full": 5, "thick": 4, "short": 1, "tiny": 1, "light": 1, "some": 2},
    "beard": {
        "full": 5,
        "long": 5,
        "thick": 5,
        "heavy": 5,
        "stubble": 1,
        "light": 1,
        "short": 2,
        "goatee": 2,
        "some": 2,
    },
    "smile": {
        "big": 5,
        "wide": 5,
        "broad": 5,
        "laugh": 5,
        "grin": 4,
        "slight": 1,
        "small": 1,
        "gentle": 1,
        "serious": 0,
        "frown": 0,
    },
    "age": {
        "very old": 5,
        "elderly": 5,
        "senior": 5,
        "old": 4,
        "middle": 2,
        "very young": 0,
        "child": 0,
        "kid": 0,
        "young": 1,
    },
}

_NEGATION = re.compile(r"\b(no|without|remove|take off|take away|get rid of|shave|clean[- ]shaven|not)\b")
_MORE = re.compile(
    r"\b(more|bigger|larger|longer|thicker|darker|heavier|older|increase|add|grow|stronger|wider|further|extra)\b"
)
_LESS = re.compile(r"\b(less|smaller|shorter|thinner|lighter|younger|reduce|decrease|weaker|fewer|trim|softer)\b")
_SMALL_AMOUNT = re.compile(r"\b(a bit|a little|slightly|somewhat|a touch|a tad|bit)\b")
_LARGE_AMOUNT = re.compile(r"\b(much|a lot|lots|way|significantly|very)\b")


def _find_attribute(text: str) -> str:
    found = []
    for attribute in ATTRIBUTES:
        for keyword in _KEYWORDS[attribute]:
            match = re.search(r"\b" + re.escape(keyword), text)
            if match:
                found.append((match.start(), attribute))
                break
    if not found:
        raise InstructionError(f"the instruction names nothing this model can edit; it can edit {EDITABLE_HELP}")
    return min(found)[1]


def parse_instruction(text: str) -> EditRequest:
    """Parse one instruction.

    Raises:
        InstructionError: for an empty instruction or one about nothing editable.
    """
    cleaned = " ".join(text.lower().replace("’", "'").split())
    if not cleaned:
        raise InstructionError(f"the instruction is empty; it can edit {EDITABLE_HELP}")
    attribute = _find_attribute(cleaned)

    if _NEGATION.search(cleaned) and not _MORE.search(cleaned.replace("no more", "")) and "not so" not in cleaned:
        return EditRequest(attribute, "target", degree=0)

    relative_less = _LESS.search(cleaned) is not None
    relative_more = _MORE.search(cleaned) is not None and not relative_less
    # "add glasses" / "grow a beard" with no adjective reads as absolute in CelebA-Dialog style.
    if relative_more and re.search(r"\b(add|grow)\b", cleaned) and not re.search(r"\bmore\b", cleaned):
        relative_more = False

    if relative_more or relative_less:
        size = 2
        if _SMALL_AMOUNT.search(cleaned):
            size = 1
        elif _LARGE_AMOUNT.search(cleaned):
            size = 3
        return EditRequest(attribute, "change", amount=size if relative_more else -size)

    for phrase, degree in sorted(_ABSOLUTE[attribute].items(), key=lambda item: -len(item[0])):
        if re.search(r"\b" + re.escape(phrase), cleaned):
            return EditRequest(attribute, "target", degree=degree)

    # A bare request ("give her glasses", "make him smile") means a clear, middle degree.
    if attribute == "age" and re.search(r"\byoung", cleaned):
        return EditRequest(attribute, "target", degree=1)
    return EditRequest(attribute, "target", degree=3)


_FOLLOW_UP_REPEAT = re.compile(r"\b(again|once more|same again|repeat)\b")


def parse_follow_up(text: str, previous: EditRequest) -> EditRequest:
    """Read a follow-up that names no attribute ("a bit more", "less", "again") in a multi-turn
    session: it changes the previous turn's attribute by one degree ("a bit", plain), or by two
    ("much", "a lot"); "again" repeats a previous relative change.

    Raises:
        InstructionError: the text is neither about an attribute nor a follow-up.
    """
    cleaned = " ".join(text.lower().replace("’", "'").split())
    if not cleaned:
        raise InstructionError(f"the instruction is empty; it can edit {EDITABLE_HELP}")
    less = _LESS.search(cleaned) is not None
    more = _MORE.search(cleaned) is not None and not less
    if more or less:
        size = 2 if _LARGE_AMOUNT.search(cleaned) else 1
        return EditRequest(previous.attribute, "change", amount=size if more else -size)
    if _FOLLOW_UP_REPEAT.search(cleaned) and previous.mode == "change":
        return EditRequest(previous.attribute, "change", amount=previous.amount)
    raise InstructionError(
        "the instruction names nothing this model can edit and is not a follow-up such as 'a bit more' or "
        f"'less'; it can edit {EDITABLE_HELP}"
    )
