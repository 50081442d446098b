"""Batches as a pure function of (step, micro-batch, data rank): resuming at step s replays exactly the
data order of an uninterrupted run, with no loader state to checkpoint.

Global sample index g = ((step·accum + micro)·data + dataRank)·microBatch + i.
- synthetic: sample g is a deterministic arithmetic token sequence (random start and stride from
  seed and g), learnable, so a short run shows the loss falling;
- tokens: a flat binary file of token ids (numpy dtype from the plan); sample j is the window
  [j·S, j·S+S+1); the windows are visited in a seeded permutation per epoch.
"""

from __future__ import annotations

import numpy as np
import torch

from .plan import DEFAULT_TOKEN_DTYPE


class BatchSource:
    def __init__(
        self, dataset: dict, vocab_size: int, seq_len: int, micro_batch: int, accum: int, data: int, seed: int
    ):
        self.vocab, self.S, self.mbs, self.accum, self.data, self.seed = (
            vocab_size,
            seq_len,
            micro_batch,
            accum,
            data,
            seed,
        )
        self.kind = dataset.get("type", "synthetic")
        if self.kind == "tokens":
            self.tokens = np.memmap(
                dataset["path"], dtype=np.dtype(dataset.get("dtype", DEFAULT_TOKEN_DTYPE)), mode="r"
            )
            self.n = (len(self.tokens) - 1) // seq_len
            if self.n < 1:
                from .exitcodes import ConfigError

                raise ConfigError(
                    f"plan.training.dataset.path={dataset['path']!r} holds {len(self.tokens)} tokens, "
                    f"fewer than seqLength+1={seq_len + 1}"
                )
            self._perm_epoch, self._perm = -1, None

    def _sample(self, g: int) -> np.ndarray:
        if self.kind == "synthetic":
            rng = np.random.default_rng([self.seed, g])
            start, stride = rng.integers(0, self.vocab), rng.integers(1, 17)
            return (start + stride * np.arange(self.S + 1)) % self.vocab
        epoch, j = divmod(g, self.n)
        if epoch != self._perm_epoch:
            self._perm = np.random.default_rng([self.seed, epoch]).permutation(self.n)
            self._perm_epoch = epoch
        k = int(self._perm[j])
        return np.asarray(self.tokens[k * self.S : k * self.S + self.S + 1], dtype=np.int64)

    def batch(self, step: int, micro: int, data_rank: int, device) -> tuple[torch.Tensor, torch.Tensor]:
        base = ((step * self.accum + micro) * self.data + data_rank) * self.mbs
        arr = np.stack([self._sample(base + i) for i in range(self.mbs)]).astype(np.int64)
        t = torch.from_numpy(arr)
        if (t < 0).any() or (t >= self.vocab).any():
            raise ValueError(f"token id out of range [0, {self.vocab}) in the dataset")
        if torch.device(device).type == "cuda":  # pinned: the copy is asynchronous, the step stays sync-free
            t = t.pin_memory()
        t = t.to(device, non_blocking=True)
        return t[:, :-1], t[:, 1:]
