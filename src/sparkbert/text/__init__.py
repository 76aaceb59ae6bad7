"""Text segmentation: pure functions behind the SentenceDetector and Tokenizer stages.

Both work on ``Annotation`` values and keep offsets exact:
``text[a.begin : a.end + 1] == a.result`` for every sentence and token.

Examples
--------
>>> from sparkbert.annotation import Annotation
>>> text = "Dr. Who ate 3.5 apples. Then he left!"
>>> sentences = detect_sentences(Annotation("document", 0, len(text) - 1, text))
>>> [s.result for s in sentences]
['Dr. Who ate 3.5 apples.', 'Then he left!']
>>> [(t.result, t.metadata["sentence"]) for t in tokenize(sentences)][-3:]
[('he', '1'), ('left', '1'), ('!', '1')]
"""

from __future__ import annotations

from sparkbert.text.sentences import detect_sentences, sentence_spans
from sparkbert.text.tokens import token_spans, tokenize

__all__ = ["detect_sentences", "sentence_spans", "token_spans", "tokenize"]
