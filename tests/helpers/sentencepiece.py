"""Random-weight checkpoints with an XLM-R style SentencePiece tokenizer, built at test time.

``paraphrase-multilingual-MiniLM-L12-v2`` is a ``BertModel`` (positions from 0) under XLM-R's
SentencePiece tokenizer (Unigram, ``Metaspace`` ``▁`` word marks, ``<s>``/``</s>``/``<pad>``/
``<unk>``), saved by sentence-transformers with mean pooling; ``xlm-roberta-*`` models number
positions from ``pad_token_id + 1``. No Hub is reachable from tests, so both are rebuilt here:
a Unigram tokenizer trained on the repository's UD sentences (12 languages) with XLM-R's
control tokens at XLM-R's ids (0–3) and post-processor, and seeded random weights.

Needs torch, transformers and sentence-transformers (the ``test`` extra).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any, Literal

from tests.helpers.checkpoints import perturb, ud_sentences

#: XLM-R's control tokens, in XLM-R's id order (``<mask>`` is appended after the pieces).
SPECIALS = ["<s>", "<pad>", "</s>", "<unk>"]


def sentencepiece_tokenizer(vocab_size: int = 8000) -> Any:
    """A Unigram ``tokenizers.Tokenizer`` shaped like XLM-R's, trained on the UD sentences."""
    from tokenizers import AddedToken, processors
    from tokenizers.implementations import SentencePieceUnigramTokenizer

    trainer = SentencePieceUnigramTokenizer()
    trainer.train_from_iterator(
        ud_sentences(400),
        vocab_size=vocab_size,
        special_tokens=SPECIALS,
        unk_token="<unk>",
        show_progress=False,
    )
    tokenizer = trainer._tokenizer
    tokenizer.add_special_tokens([AddedToken("<mask>", lstrip=True, special=True)])
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>",
        pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", 0), ("</s>", 2)],
    )
    return tokenizer


def make_sentencepiece_checkpoint(
    out_dir: Path,
    *,
    architecture: Literal["bert", "xlm-roberta"] = "bert",
    seed: int = 0,
    num_hidden_layers: int = 2,
    hidden_size: int = 32,
    pooling: str | tuple[str, ...] = "mean",
) -> tuple[Path, Any]:
    """Write a sentence-transformers checkpoint (Transformer → Pooling) with a SentencePiece tokenizer.

    ``architecture="bert"`` is paraphrase-multilingual-MiniLM's shape (a BertModel under XLM-R's
    tokenizer); ``"xlm-roberta"`` an XLMRobertaModel (positions from ``pad_token_id + 1``).
    Returns the folder and the in-memory ``SentenceTransformer`` (the reference).
    """
    import torch
    from transformers import BertConfig, BertModel, XLMRobertaConfig, XLMRobertaModel, XLMRobertaTokenizerFast

    out_dir = Path(out_dir)
    base = out_dir / "transformer"
    base.mkdir(parents=True, exist_ok=True)
    fast = XLMRobertaTokenizerFast(
        tokenizer_object=sentencepiece_tokenizer(),
        bos_token="<s>",
        eos_token="</s>",
        sep_token="</s>",
        cls_token="<s>",
        unk_token="<unk>",
        pad_token="<pad>",
        mask_token="<mask>",
        model_max_length=128,
    )
    fast.save_pretrained(str(base))
    shape: dict[str, Any] = {
        "vocab_size": len(fast),
        "hidden_size": hidden_size,
        "num_hidden_layers": num_hidden_layers,
        "num_attention_heads": 4,
        "intermediate_size": 2 * hidden_size,
        "hidden_act": "gelu",
    }
    torch.manual_seed(seed)
    if architecture == "bert":  # paraphrase-multilingual-MiniLM: BERT weights, pad_token_id 0
        model = BertModel(BertConfig(max_position_embeddings=128, type_vocab_size=2, **shape)).eval()
    else:
        config = XLMRobertaConfig(
            max_position_embeddings=130, type_vocab_size=1, pad_token_id=1, layer_norm_eps=1e-5, **shape
        )
        model = XLMRobertaModel(config).eval()
    perturb(model, seed)
    model.save_pretrained(str(base), safe_serialization=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from sentence_transformers import SentenceTransformer, models

        transformer = models.Transformer(str(base), max_seq_length=128)
        pool = models.Pooling(transformer.get_word_embedding_dimension(), pooling_mode=pooling)
        st = SentenceTransformer(modules=[transformer, pool], device="cpu")
        st.save(str(out_dir / "st"), safe_serialization=True)
    (out_dir / "st" / "tokenizer.json").read_text(encoding="utf-8")  # the fast tokenizer was saved
    json.loads((out_dir / "st" / "modules.json").read_text(encoding="utf-8"))
    return out_dir / "st", st
