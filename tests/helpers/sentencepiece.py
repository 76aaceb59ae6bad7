"""Random-weight checkpoints with an XLM-R style SentencePiece (or a RoBERTa byte-level BPE) tokenizer.

``paraphrase-multilingual-MiniLM-L12-v2`` is a ``BertModel`` (positions from 0) under XLM-R's
SentencePiece tokenizer (Unigram, ``Metaspace`` ``▁`` word marks, ``<s>``/``</s>``/``<pad>``/
``<unk>``), saved by sentence-transformers with mean pooling; ``xlm-roberta-*`` models number
positions from ``pad_token_id + 1``. No Hub is reachable from tests, so both are rebuilt here:
a Unigram tokenizer trained on the repository's UD sentences (12 languages) with XLM-R's
control tokens at XLM-R's ids (0–3) and post-processor, and seeded random weights.
``roberta-*`` models have the same encoder under a byte-level BPE tokenizer (GPT-2's
``ByteLevel`` pre-tokenizer, ``Ġ`` word marks, the same control tokens): trained the same way.

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
#: The roles of XLM-R's (and RoBERTa's) control tokens, for transformers' fast tokenizers.
TOKENIZER_ROLES: dict[str, Any] = {
    "bos_token": "<s>",
    "eos_token": "</s>",
    "sep_token": "</s>",
    "cls_token": "<s>",
    "unk_token": "<unk>",
    "pad_token": "<pad>",
    "mask_token": "<mask>",
    "model_max_length": 128,
}


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


def byte_level_tokenizer(vocab_size: int = 8000) -> Any:
    """A ``RobertaTokenizerFast`` over a byte-level BPE trained on the UD sentences, RoBERTa's post-processor."""
    from tokenizers import ByteLevelBPETokenizer, processors
    from transformers import RobertaTokenizerFast

    trainer = ByteLevelBPETokenizer(add_prefix_space=False)
    trainer.train_from_iterator(
        ud_sentences(400), vocab_size=vocab_size, special_tokens=[*SPECIALS, "<mask>"], show_progress=False
    )
    tokenizer = trainer._tokenizer
    tokenizer.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0), trim_offsets=True)
    return RobertaTokenizerFast(tokenizer_object=tokenizer, **TOKENIZER_ROLES)


def make_sentencepiece_checkpoint(
    out_dir: Path,
    *,
    architecture: Literal["bert", "xlm-roberta", "roberta"] = "bert",
    seed: int = 0,
    num_hidden_layers: int = 2,
    hidden_size: int = 32,
    pooling: str | tuple[str, ...] = "mean",
) -> tuple[Path, Any]:
    """Write a sentence-transformers checkpoint (Transformer → Pooling) with a SentencePiece tokenizer.

    ``architecture="bert"`` is paraphrase-multilingual-MiniLM's shape (a BertModel under XLM-R's
    tokenizer); ``"xlm-roberta"`` an XLMRobertaModel (positions from ``pad_token_id + 1``);
    ``"roberta"`` a RobertaModel under a byte-level BPE tokenizer (:func:`byte_level_tokenizer`).
    Returns the folder and the in-memory ``SentenceTransformer`` (the reference).
    """
    import torch
    from transformers import (
        BertConfig,
        BertModel,
        RobertaConfig,
        RobertaModel,
        XLMRobertaConfig,
        XLMRobertaModel,
        XLMRobertaTokenizerFast,
    )

    out_dir = Path(out_dir)
    base = out_dir / "transformer"
    base.mkdir(parents=True, exist_ok=True)
    if architecture == "roberta":
        fast = byte_level_tokenizer()
    else:
        fast = XLMRobertaTokenizerFast(tokenizer_object=sentencepiece_tokenizer(), **TOKENIZER_ROLES)
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
    else:  # the RoBERTa family: positions from pad_token_id + 1
        config_type, model_type = (
            (RobertaConfig, RobertaModel)
            if architecture == "roberta"
            else (XLMRobertaConfig, XLMRobertaModel)
        )
        config = config_type(
            max_position_embeddings=130, type_vocab_size=1, pad_token_id=1, layer_norm_eps=1e-5, **shape
        )
        model = model_type(config).eval()
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
