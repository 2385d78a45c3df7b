"""Text semantic encoder: a bidirectional LSTM over word tokens with one head per question.

The heads read the attribute (the five attributes or "none"), the mode (target or change), the
absolute degree 0..5 and the signed amount (-3..-1, +1..+3). Words outside the vocabulary become
``<unk>``, so an unseen word never breaks parsing. Training replaces random words by ``<unk>``,
so the model learns to read around them.
"""

from __future__ import annotations

import re

import torch
from torch import nn

from deepsc.attributes import ATTRIBUTES
from deepsc.instruction import EDITABLE_HELP, EditRequest, InstructionError, mentions_editable_attribute

PAD, UNK = "<pad>", "<unk>"
ATTRIBUTE_CLASSES = (*ATTRIBUTES, "none")
MODES = ("target", "change")
AMOUNTS = (-3, -2, -1, 1, 2, 3)
MAX_TOKENS = 32

_TOKEN = re.compile(r"[a-z]+(?:'[a-z]+)?|\d+")


def tokenize(text: str) -> list[str]:
    """Lower-case word tokens; punctuation is dropped."""
    return _TOKEN.findall(text.lower().replace("’", "'"))[:MAX_TOKENS]


class TextEncoder(nn.Module):
    """BiLSTM instruction encoder.

    Args:
        vocab: token list; index 0 must be ``<pad>`` and index 1 ``<unk>``.
        embed_dim: word embedding size.
        hidden: LSTM hidden size per direction; E_T has 4·hidden values (mean and max pooling).
    """

    def __init__(self, vocab: list[str], embed_dim: int = 64, hidden: int = 96) -> None:
        super().__init__()
        if vocab[:2] != [PAD, UNK]:
            raise ValueError("the vocabulary must start with <pad>, <unk>")
        self.vocab = list(vocab)
        self.index = {token: i for i, token in enumerate(self.vocab)}
        self.embedding = nn.Embedding(len(vocab), embed_dim, padding_idx=0)
        self.lstm = nn.LSTM(embed_dim, hidden, batch_first=True, bidirectional=True)
        self.attribute_head = nn.Linear(4 * hidden, len(ATTRIBUTE_CLASSES))
        self.mode_head = nn.Linear(4 * hidden, len(MODES))
        self.degree_head = nn.Linear(4 * hidden, 6)
        self.amount_head = nn.Linear(4 * hidden, len(AMOUNTS))

    def token_rows(self, texts: list[str]) -> list[list[int]]:
        """Token ids of each text, unpadded; an empty text becomes one ``<unk>``."""
        return [[self.index.get(token, 1) for token in tokenize(text)] or [1] for text in texts]

    @staticmethod
    def pad_rows(rows: list[list[int]]) -> torch.Tensor:
        """Stack token rows into (N, T), padded with 0."""
        length = max(len(row) for row in rows)
        return torch.tensor([row + [0] * (length - len(row)) for row in rows], dtype=torch.long)

    def encode_tokens(self, texts: list[str]) -> torch.Tensor:
        """Token ids (N, T), padded with 0; an empty text becomes one ``<unk>``."""
        return self.pad_rows(self.token_rows(texts))

    def embed(self, tokens: torch.Tensor) -> torch.Tensor:
        """E_T: mean and max of the BiLSTM states over the real tokens, (N, 4·hidden)."""
        mask = (tokens != 0).unsqueeze(-1)
        states, _ = self.lstm(self.embedding(tokens))
        mean = (states * mask).sum(1) / mask.sum(1).clamp_min(1)
        peak = states.masked_fill(~mask, float("-inf")).amax(1)
        return torch.cat([mean, peak], dim=1)

    def forward(self, tokens: torch.Tensor) -> dict[str, torch.Tensor]:
        """Logits of every head for token ids (N, T)."""
        features = self.embed(tokens)
        return {
            "attribute": self.attribute_head(features),
            "mode": self.mode_head(features),
            "degree": self.degree_head(features),
            "amount": self.amount_head(features),
        }

    @torch.no_grad()
    def parse(self, text: str) -> EditRequest:
        """Read one instruction.

        Raises:
            InstructionError: the text is empty or about nothing the model can edit.
        """
        if not tokenize(text):
            raise InstructionError(f"the instruction is empty; it can edit {EDITABLE_HELP}")
        # The LSTM reads any word sequence as some request, so text that names no attribute at all
        # (random letters, "make her taller") is rejected before it.
        if not mentions_editable_attribute(text):
            raise InstructionError(f"the instruction names nothing this model can edit; it can edit {EDITABLE_HELP}")
        logits = self(self.encode_tokens([text]))
        attribute = ATTRIBUTE_CLASSES[int(logits["attribute"].argmax())]
        if attribute == "none":
            raise InstructionError(f"the instruction names nothing this model can edit; it can edit {EDITABLE_HELP}")
        if MODES[int(logits["mode"].argmax())] == "target":
            return EditRequest(attribute, "target", degree=int(logits["degree"].argmax()))
        return EditRequest(attribute, "change", amount=AMOUNTS[int(logits["amount"].argmax())])
