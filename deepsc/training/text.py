"""Train the text semantic encoder on the instruction corpus."""

from __future__ import annotations

import logging
import math
import random

import torch
import torch.nn.functional as F

from deepsc.corpus import NONE_ATTRIBUTE, Instruction, generate_corpus
from deepsc.instruction import InstructionError
from deepsc.models.text_encoder import (
    AMOUNTS,
    ATTRIBUTE_CLASSES,
    MAX_TOKENS,
    MODES,
    PAD,
    UNK,
    TextEncoder,
    tokenize,
)
from deepsc.training.common import StepCallback, TrainConfig, load_checkpoint, save_checkpoint, setup_threads

logger = logging.getLogger(__name__)

# Augmentation of the training sentences: the held-out templates differ in their frame words, so
# the encoder learns to read the request when words are hidden (<unk>) or inserted. Deletion is
# off, because deleting "more" or "less" leaves a sentence whose label no longer follows from it.
WORD_DROPOUT = 0.25
WORD_DELETION = 0.0
WORD_INSERTION = 0.15


def build_vocab(corpus: list[Instruction]) -> list[str]:
    """Return every token of the training corpus, most frequent first, after <pad> and <unk>."""
    counts: dict[str, int] = {}
    for item in corpus:
        for token in tokenize(item.text):
            counts[token] = counts.get(token, 0) + 1
    return [PAD, UNK, *sorted(counts, key=lambda token: (-counts[token], token))]


def _augment(tokens: list[int], vocab_size: int, rng: random.Random) -> list[int]:
    """Delete a few words and insert random vocabulary words; the request words stay readable often enough."""
    remaining = [token for token in tokens if rng.random() >= WORD_DELETION] or tokens[:1]
    out: list[int] = []
    for token in remaining:
        if rng.random() < WORD_INSERTION:
            out.append(rng.randrange(2, vocab_size))
        out.append(token)
    return out[:MAX_TOKENS]


def _targets(batch: list[Instruction]) -> dict[str, torch.Tensor]:
    attribute = torch.tensor([ATTRIBUTE_CLASSES.index(item.attribute) for item in batch])
    editable = attribute != ATTRIBUTE_CLASSES.index(NONE_ATTRIBUTE)
    mode = torch.tensor([MODES.index(item.mode) if item.mode else 0 for item in batch])
    degree = torch.tensor([max(item.degree, 0) for item in batch])
    amount = torch.tensor([AMOUNTS.index(item.amount) if item.amount else 0 for item in batch])
    is_target = editable & (mode == 0)
    is_change = editable & (mode == 1)
    return {
        "attribute": attribute,
        "mode": mode,
        "degree": degree,
        "amount": amount,
        "editable": editable,
        "is_target": is_target,
        "is_change": is_change,
    }


def train_text_encoder(config: TrainConfig, callback: StepCallback | None = None) -> TextEncoder:
    """Train a ``TextEncoder`` on the training templates; resumable through ``config.checkpoint``."""
    setup_threads(config.threads)
    torch.manual_seed(config.seed)
    corpus = generate_corpus("train", seed=config.seed)
    model = TextEncoder(build_vocab(corpus))
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    start = 0
    state = load_checkpoint(config.checkpoint)
    if state is not None:
        model = TextEncoder(state["vocab"])
        model.load_state_dict(state["model"])
        optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
        optimizer.load_state_dict(state["optimizer"])
        start = state["step"]
    # Cosine decay to zero over the whole run; a resumed run continues on the same curve.
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: 0.5 * (1 + math.cos(math.pi * min(step, config.steps) / config.steps))
    )
    for _ in range(start):
        schedule.step()

    model.train()
    for step in range(start, config.steps):
        rng = random.Random(config.seed * 1_000_003 + step)
        batch = rng.sample(corpus, config.batch_size)
        rows = [_augment(row, len(model.vocab), rng) for row in model.token_rows([item.text for item in batch])]
        tokens = model.pad_rows(rows)
        dropped = (torch.rand(tokens.shape, generator=torch.Generator().manual_seed(step)) < WORD_DROPOUT) & (
            tokens > 1
        )
        tokens = tokens.masked_fill(dropped, 1)
        logits = model(tokens)
        target = _targets(batch)

        loss = F.cross_entropy(logits["attribute"], target["attribute"])
        if target["editable"].any():
            loss = loss + F.cross_entropy(logits["mode"][target["editable"]], target["mode"][target["editable"]])
        if target["is_target"].any():
            loss = loss + F.cross_entropy(logits["degree"][target["is_target"]], target["degree"][target["is_target"]])
        if target["is_change"].any():
            loss = loss + F.cross_entropy(logits["amount"][target["is_change"]], target["amount"][target["is_change"]])

        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()

        if (step + 1) % config.checkpoint_every == 0 or step + 1 == config.steps:
            save_checkpoint(
                config.checkpoint,
                {
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "vocab": model.vocab,
                    "step": step + 1,
                },
            )
        if callback is not None and callback(step + 1, config.steps, {"loss": loss.item()}) is False:
            break

    model.eval()
    return model


def evaluate_text_encoder(model: TextEncoder, split: str = "held_out", seed: int = 1) -> dict:
    """Fraction of instructions read fully right: attribute, mode and degree or amount."""
    corpus = generate_corpus(split, seed=seed)
    right = 0
    for item in corpus:
        try:
            request = model.parse(item.text)
        except InstructionError:
            right += item.attribute == NONE_ATTRIBUTE
            continue
        if item.attribute == NONE_ATTRIBUTE or request.attribute != item.attribute or request.mode != item.mode:
            continue
        if item.mode == "target":
            right += request.degree == item.degree
        else:
            right += request.amount == item.amount
    return {"instructions": len(corpus), "accuracy": round(right / len(corpus), 4)}
