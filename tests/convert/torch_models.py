"""Small PyTorch modules for the convert tests (importable, so torch.save's pickles of them load)."""

from __future__ import annotations

import torch


class SmallNet(torch.nn.Module):
    """A tiny CNN: image batch → class scores."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, kernel_size=3)
        self.norm = torch.nn.BatchNorm2d(4)
        self.drop = torch.nn.Dropout(0.5)  # only eval mode gives repeatable answers
        self.head = torch.nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = torch.relu(self.norm(self.conv(x)))
        scores: torch.Tensor = self.head(self.drop(features.mean(dim=(2, 3))))
        return scores


class TwoInputs(torch.nn.Module):
    """Two inputs (float features, int64 token ids), two outputs."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = torch.nn.Embedding(10, 4)
        self.dense = torch.nn.Linear(6, 4)

    def forward(self, features: torch.Tensor, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mixed = self.dense(features) + self.embed(tokens).mean(dim=1)
        return mixed, mixed.sum(dim=1)


class FixedBatch(torch.nn.Module):
    """Hard-codes the batch size: cannot have a dynamic batch axis."""

    def __init__(self) -> None:
        super().__init__()
        self.dense = torch.nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        reshaped: torch.Tensor = self.dense(x).reshape(2, -1)
        return reshaped
