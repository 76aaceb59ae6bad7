"""Reference token vectors from Hugging Face transformers (PyTorch CPU), computed independently.

The reference tokenizes each sentence whole with transformers' own tokenizer, runs
``BertModel`` once per sentence (batched, padded, with an attention mask), and takes,
for each token span, the first overlapping piece's vector (or the mean of all of them).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np


def reference_vectors(
    model: object,
    tokenizer_dir: Path,
    texts: Sequence[str],
    spans: Sequence[Sequence[tuple[int, int]]],
    poolings: Sequence[str] = ("first", "mean"),
    batch_size: int = 32,
) -> dict[str, list[np.ndarray]]:
    """Return, per pooling and per text, an array of one vector per ``[begin, end)`` span."""
    import torch
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    out: dict[str, list[np.ndarray]] = {p: [np.zeros(0)] * len(texts) for p in poolings}
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    for b in range(0, len(order), batch_size):
        idx = order[b : b + batch_size]
        enc = tokenizer(
            [texts[i] for i in idx], return_offsets_mapping=True, padding=True, return_tensors="pt"
        )
        offsets = enc.pop("offset_mapping").numpy()
        with torch.no_grad():
            hidden = model(**enc).last_hidden_state.numpy()  # type: ignore[operator]
        for row, i in enumerate(idx):
            special = enc["attention_mask"][row].numpy() == 0
            ids = enc["input_ids"][row].numpy()
            special |= np.isin(ids, [tokenizer.cls_token_id, tokenizer.sep_token_id])
            starts, ends = offsets[row, :, 0], offsets[row, :, 1]
            vecs: dict[str, list[np.ndarray]] = {p: [] for p in poolings}
            for begin, end in spans[i]:
                hit = np.nonzero(~special & (starts < end) & (ends > begin))[0]
                for pooling in poolings:
                    if len(hit) == 0:
                        vecs[pooling].append(np.zeros(hidden.shape[-1], dtype=np.float32))
                    elif pooling == "first":
                        vecs[pooling].append(hidden[row, hit[0]])
                    elif pooling == "last":
                        vecs[pooling].append(hidden[row, hit[-1]])
                    else:
                        vecs[pooling].append(hidden[row, hit].mean(0))
            for pooling in poolings:
                out[pooling][i] = np.array(vecs[pooling], dtype=np.float32).reshape(
                    len(spans[i]), hidden.shape[-1]
                )
    return out
