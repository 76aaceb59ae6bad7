"""Cross-lingual sentence similarity: two sentences in 10 languages, a heatmap and a 2-D map.

Embeds the same sentences in several languages with BertEmbeddings + SentenceEmbeddings,
then saves a cosine-similarity heatmap and a 2-D projection (PCA) as PNG files.

    python examples/crosslingual_similarity.py --out docs/images
    python examples/crosslingual_similarity.py --model path/to/model-or-checkpoint --out /tmp/img

The pictures are titled with the model's name: a registry name or Hub repo id as given, the
folder name of a local model.

With the default model (``bert_base_multilingual_cased``) translations of one sentence
land close together; with an English-only model they do not.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

# The same two sentences, written for this example, in 10 languages.
SENTENCES = {
    "en": ["The weather is beautiful today.", "I am reading a book about history."],
    "de": ["Das Wetter ist heute wunderschön.", "Ich lese ein Buch über Geschichte."],
    "fr": ["Il fait très beau aujourd'hui.", "Je lis un livre sur l'histoire."],
    "es": ["Hoy hace un tiempo precioso.", "Estoy leyendo un libro de historia."],
    "ru": ["Сегодня прекрасная погода.", "Я читаю книгу об истории."],
    "tr": ["Bugün hava çok güzel.", "Tarih hakkında bir kitap okuyorum."],
    "hi": ["आज मौसम बहुत सुहावना है।", "मैं इतिहास के बारे में एक किताब पढ़ रहा हूँ।"],
    "zh": ["今天天气很好。", "我在读一本关于历史的书。"],
    "ja": ["今日はとても良い天気です。", "私は歴史の本を読んでいます。"],
    "ar": ["الطقس جميل اليوم.", "أنا أقرأ كتابا عن التاريخ."],
}


def sentence_vectors(model: str) -> tuple[list[str], np.ndarray]:
    """Return labels and one sentence vector per (language, sentence)."""
    from sparkbert import embed

    labels, texts = [], []
    for lang, sentences in SENTENCES.items():
        for i, text in enumerate(sentences):
            labels.append(f"{lang}-{i}")
            texts.append(text)
    frame = embed(texts, model=model, sentence_embeddings=True, pooling="mean")
    vectors = np.stack(frame.groupby("text_index")["vector"].apply(lambda v: np.mean(np.stack(list(v)), 0)))
    return labels, vectors


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="bert_base_multilingual_cased")
    parser.add_argument("--out", default="crosslingual", type=Path)
    args = parser.parse_args(argv)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels, vectors = sentence_vectors(args.model)
    name = Path(args.model).name if Path(args.model).is_dir() else args.model
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    similarity = unit @ unit.T
    args.out.mkdir(parents=True, exist_ok=True)

    fig, ax = plt.subplots(figsize=(9, 8))
    image = ax.imshow(similarity, cmap="viridis", vmin=min(0.0, float(similarity.min())), vmax=1.0)
    ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=7)
    ax.set_yticks(range(len(labels)), labels, fontsize=7)
    ax.set_title(f"Cosine similarity of sentence embeddings ({name})", fontsize=9)
    fig.colorbar(image)
    fig.tight_layout()
    fig.savefig(args.out / "similarity_heatmap.png", dpi=120)

    centred = unit - unit.mean(0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    points = centred @ vt[:2].T
    fig, ax = plt.subplots(figsize=(7, 6))
    for idx, (label, (x, y)) in enumerate(zip(labels, points)):
        ax.scatter(x, y, color="tab:blue" if idx % 2 == 0 else "tab:orange")
        ax.annotate(label, (x, y), xytext=(4, 3), textcoords="offset points", fontsize=7)
    ax.set_title(
        f"2-D projection (PCA) of sentence embeddings ({name})\nblue = sentence 0, orange = sentence 1",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(args.out / "projection.png", dpi=120)
    # nearest other-language neighbour of each sentence
    for i, label in enumerate(labels):
        order = [j for j in np.argsort(-similarity[i]) if labels[j][:2] != label[:2]]
        print(f"{label:6s} -> {labels[order[0]]:6s} cosine {similarity[i, order[0]]:.3f}")


if __name__ == "__main__":
    main()
