"""Instruction corpus in the style of CelebA-Dialog, with labels, for the text semantic encoder.

Each instruction requests either an absolute degree ("give her thick glasses") or a change
("make her smile a bit more"), or is about nothing the model can edit ("paint the sky purple").
Sentence templates come in two disjoint sets: ``train`` templates build the training corpus and
``held_out`` templates only the test set, so the test measures phrasings never seen in training
(the words themselves may recur).

Degree descriptions follow the renderer: for eyeglasses, 1 thin frames, 2 thick frames, 3 lightly
tinted, 4 tinted, 5 dark sunglasses; for the other attributes, more of the attribute.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from deepsc.attributes import ATTRIBUTES

# Label of an instruction about nothing editable.
NONE_ATTRIBUTE = "none"
# Relative amounts in degrees: "a bit" 1, plain 2, "much" 3.
AMOUNT_WORDS = {
    1: ("a bit", "a little", "slightly", "a little bit", "just a bit", "a touch", "somewhat"),
    2: ("",),
    3: ("much", "a lot", "way", "far", "significantly", "considerably"),
}


@dataclass(frozen=True)
class Instruction:
    """One labelled instruction.

    Attributes:
        text: the sentence.
        attribute: one of ``ATTRIBUTES`` or "none".
        mode: "target" or "change" ("" for "none").
        degree: absolute degree for a target, else -1.
        amount: signed change in degrees for a change, else 0.
    """

    text: str
    attribute: str
    mode: str = ""
    degree: int = -1
    amount: int = 0


# Descriptions of each degree, usable after "give her" / "with".
DEGREE_PHRASES: dict[str, dict[int, tuple[str, ...]]] = {
    "bangs": {
        0: ("no bangs", "no fringe", "a bare forehead"),
        1: ("very short bangs", "a tiny fringe", "barely any bangs"),
        2: ("short bangs", "a short fringe", "some short bangs"),
        3: ("medium bangs", "a medium-length fringe", "bangs of medium length"),
        4: ("long bangs", "a long fringe", "bangs down to the eyebrows"),
        5: ("very long bangs", "a very long fringe", "extremely long bangs"),
    },
    "eyeglasses": {
        0: ("no glasses", "no eyeglasses", "no spectacles"),
        1: ("thin glasses", "thin-rimmed glasses", "delicate glasses"),
        2: ("thick glasses", "thick-rimmed glasses", "heavy-framed glasses"),
        3: ("lightly tinted glasses", "slightly tinted glasses", "glasses with a light tint"),
        4: ("tinted glasses", "dark-tinted glasses", "glasses with tinted lenses"),
        5: ("sunglasses", "dark sunglasses", "black shades"),
    },
    "beard": {
        0: ("no beard", "a clean-shaven face", "a shaved face"),
        1: ("stubble", "a bit of stubble", "a five o'clock shadow"),
        2: ("a short beard", "a light beard", "a trimmed beard"),
        3: ("a medium beard", "a moderate beard", "a medium-length beard"),
        4: ("a full beard", "a thick beard", "a bushy beard"),
        5: ("a very long beard", "a huge beard", "an enormous beard"),
    },
    "smile": {
        0: ("no smile", "a neutral expression", "a serious face"),
        1: ("a faint smile", "a slight smile", "a hint of a smile"),
        2: ("a gentle smile", "a small smile", "a soft smile"),
        3: ("a smile", "a clear smile", "a happy smile"),
        4: ("a big smile", "a broad smile", "a wide smile"),
        5: ("a huge grin", "a laughing face", "the biggest smile possible"),
    },
    "age": {
        0: ("a childlike look", "the look of a teenager", "a very young face"),
        1: ("a young look", "a youthful face", "the look of someone in their twenties"),
        2: ("the look of a young adult", "the face of someone around thirty", "a slightly mature look"),
        3: ("a middle-aged look", "the face of someone in their forties", "a middle-aged face"),
        4: ("an old look", "the face of an older person", "the look of someone in their sixties"),
        5: ("a very old look", "an elderly face", "the look of someone in their eighties"),
    },
}

# Words for the attribute in relative requests, and comparatives for both directions.
NOUNS = {
    "bangs": ("bangs", "fringe"),
    "eyeglasses": ("glasses", "eyeglasses", "spectacles"),
    "beard": ("beard", "facial hair"),
    "smile": ("smile", "grin"),
    "age": ("age",),
}
MORE = {
    "bangs": ("longer", "thicker", "fuller"),
    "eyeglasses": ("darker", "thicker", "heavier"),
    "beard": ("longer", "thicker", "fuller", "bushier"),
    "smile": ("bigger", "wider", "broader"),
    "age": ("older", "more aged", "more mature"),
}
LESS = {
    "bangs": ("shorter", "thinner", "lighter"),
    "eyeglasses": ("lighter", "thinner", "more transparent"),
    "beard": ("shorter", "thinner", "lighter", "sparser"),
    "smile": ("smaller", "more subtle", "more restrained"),
    "age": ("younger", "more youthful", "less aged"),
}
PRONOUNS = ("her", "him", "them", "this person", "the face")
SUBJECTS = ("she", "he", "they", "this person")

# Absolute-request templates: {p} pronoun, {s} subject, {d} degree phrase.
TARGET_TEMPLATES = {
    "train": (
        "give {p} {d}",
        "make {p} have {d}",
        "i want {p} to have {d}",
        "{p} should have {d}",
        "can you give {p} {d}",
        "let {p} have {d}",
        "please give {p} {d}",
        "change it so {s} has {d}",
        "edit the photo to show {d}",
        "i'd like {d} on {p}",
        "put {d} on the face",
        "{d} please",
        "could {s} have {d}",
        "make it {d}",
    ),
    "held_out": (
        "how about {d} for {p}",
        "i think {s} would look good with {d}",
        "try {d} on {p}",
        "go for {d}",
        "show {p} with {d}",
    ),
}
# Relative templates: {n} noun, {c} comparative, {a} amount words, {v} verb phrase.
CHANGE_TEMPLATES = {
    "train": (
        "make the {n} {a} {c}",
        "i want the {n} {a} {c}",
        "the {n} should be {a} {c}",
        "can the {n} be {a} {c}",
        "make {p} {n} {a} {c}",
        "please make the {n} {a} {c}",
        "{a} {c} {n} please",
        "let the {n} be {a} {c}",
        "change the {n} to be {a} {c}",
        "could you make the {n} {a} {c}",
        "edit it so the {n} is {a} {c}",
    ),
    "held_out": (
        "i'd prefer the {n} {a} {c}",
        "the {n} needs to be {a} {c}",
        "try making the {n} {a} {c}",
        "what if the {n} were {a} {c}",
    ),
}
# "more X" / "less X" forms.
MORE_LESS_TEMPLATES = {
    "train": (
        "{a} more {n}",
        "add {a} more {n}",
        "i want {a} more {n}",
        "give {p} {a} more {n}",
        "{a} less {n}",
        "i want {a} less {n}",
        "give {p} {a} less {n}",
        "reduce the {n} {a}",
        "increase the {n} {a}",
        "turn up the {n} {a}",
        "tone down the {n} {a}",
    ),
    "held_out": (
        "can we have {a} more {n}",
        "can we have {a} less {n}",
        "{s} should have {a} more {n}",
        "{s} should have {a} less {n}",
    ),
}
# Instructions about things the model cannot edit.
UNEDITABLE = {
    "train": (
        "paint the sky purple",
        "make the background blue",
        "change the hair colour to red",
        "make the car faster",
        "rotate the image",
        "make the photo brighter",
        "turn it black and white",
        "add a hat",
        "give her earrings",
        "make the eyes green",
        "change the shirt to red",
        "crop the picture",
        "remove the background",
        "make the nose smaller",
        "add a tree behind her",
        "increase the contrast",
        "make it sharper",
        "give him a tie",
        "put a flower in her hair",
        "make the lips red",
        "add freckles",
        "make it look like a painting",
        "turn the face to the left",
        "add a dog",
        "make the lighting warmer",
        "what time is it",
        "hello there",
        "blur the background",
        "give her a necklace",
        "make the skin darker",
    ),
    "held_out": (
        "change the background to a beach",
        "make the photo sepia",
        "add a scarf",
        "make the ears bigger",
        "put him in a suit",
        "add some snow",
        "make the picture smaller",
        "give them a crown",
    ),
}
# Verbs for increase/decrease that name the attribute on their own.
VERB_CHANGES: dict[str, dict[tuple[str, int], tuple[str, ...]]] = {
    "train": {
        ("smile", 1): ("make {p} smile {a} more", "{s} should smile {a} more"),
        ("smile", -1): ("make {p} smile {a} less", "{s} should smile {a} less"),
        ("age", 1): ("make {p} look {a} older", "age {p} {a}"),
        ("age", -1): ("make {p} look {a} younger", "make {p} {a} younger"),
    },
    "held_out": {
        ("smile", 1): ("could {s} smile {a} more",),
        ("smile", -1): ("could {s} smile {a} less",),
        ("age", 1): ("{s} should look {a} older",),
        ("age", -1): ("{s} should look {a} younger",),
    },
}


# Words around a request that change nothing. The training split wraps requests in them, so the
# encoder learns to find the request anywhere in the sentence.
FILLERS_BEFORE = ("", "", "", "please", "ok", "now", "hmm", "next", "and", "so")
FILLERS_AFTER = ("", "", "", "please", "thanks", "now", "for me", "if possible", "this time")


def _clean(text: str) -> str:
    return " ".join(text.split())


def generate_corpus(split: str, seed: int = 0, per_template: int = 8) -> list[Instruction]:
    """Build the labelled instructions of one split ("train" or "held_out").

    Args:
        split: which template set to use.
        seed: seed of the word choices.
        per_template: how many fillings to draw per template, attribute and degree or amount.
    """
    if split not in ("train", "held_out"):
        raise ValueError(f"unknown split {split!r}; expected 'train' or 'held_out'")
    rng = random.Random(f"{split}-{seed}")
    items: list[Instruction] = []

    for attribute in ATTRIBUTES:
        for degree, phrases in DEGREE_PHRASES[attribute].items():
            for template in TARGET_TEMPLATES[split]:
                for _ in range(per_template):
                    text = template.format(p=rng.choice(PRONOUNS), s=rng.choice(SUBJECTS), d=rng.choice(phrases))
                    items.append(Instruction(_clean(text), attribute, "target", degree=degree))

        for amount, words in AMOUNT_WORDS.items():
            for sign, comparatives in ((1, MORE[attribute]), (-1, LESS[attribute])):
                for template in CHANGE_TEMPLATES[split]:
                    for _ in range(max(1, per_template // 2)):
                        text = template.format(
                            n=rng.choice(NOUNS[attribute]),
                            c=rng.choice(comparatives),
                            a=rng.choice(words),
                            p=rng.choice(("her", "his", "their")),
                        )
                        items.append(Instruction(_clean(text), attribute, "change", amount=sign * amount))
                for template in MORE_LESS_TEMPLATES[split]:
                    template_sign = -1 if any(word in template for word in ("less", "reduce", "down")) else 1
                    if template_sign != sign:
                        continue
                    for _ in range(max(1, per_template // 2)):
                        text = template.format(
                            n=rng.choice(NOUNS[attribute]),
                            a=rng.choice(words),
                            p=rng.choice(PRONOUNS),
                            s=rng.choice(SUBJECTS),
                        )
                        items.append(Instruction(_clean(text), attribute, "change", amount=sign * amount))
                # Few verb templates exist, so each gets twice the fillings of a noun template.
                for template in VERB_CHANGES[split].get((attribute, sign), ()):
                    for _ in range(per_template):
                        text = template.format(p=rng.choice(PRONOUNS), s=rng.choice(SUBJECTS), a=rng.choice(words))
                        items.append(Instruction(_clean(text), attribute, "change", amount=sign * amount))

    for text in UNEDITABLE[split]:
        for prefix in ("", "please ", "can you ", "i want to "):
            items.append(Instruction(_clean(prefix + text), NONE_ATTRIBUTE))
    if split == "train":
        items = [
            Instruction(
                _clean(f"{rng.choice(FILLERS_BEFORE)} {item.text} {rng.choice(FILLERS_AFTER)}"),
                item.attribute,
                item.mode,
                item.degree,
                item.amount,
            )
            for item in items
        ]
    rng.shuffle(items)
    return items
