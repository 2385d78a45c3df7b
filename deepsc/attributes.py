"""The five editable attributes and their degrees, shared by every model and interface."""

from __future__ import annotations

# Attribute names as they appear in the API, the CLI, logs and files. Each degree grows with more
# bangs, darker or thicker glasses, more beard, a bigger smile and more age.
ATTRIBUTES: tuple[str, ...] = ("bangs", "eyeglasses", "beard", "smile", "age")

# Degrees run from 0 to NUM_DEGREES - 1.
NUM_DEGREES = 6
MAX_DEGREE = NUM_DEGREES - 1


def attribute_index(name: str) -> int:
    """Return the column of ``name`` in ``ATTRIBUTES``; raise ValueError for an unknown name."""
    try:
        return ATTRIBUTES.index(name)
    except ValueError:
        raise ValueError(f"unknown attribute {name!r}; expected one of {', '.join(ATTRIBUTES)}") from None


def clamp_degree(degree: int) -> int:
    """Clamp a degree to the valid range 0..MAX_DEGREE."""
    return max(0, min(MAX_DEGREE, int(degree)))
