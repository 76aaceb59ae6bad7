"""Train a pyspark.ml LogisticRegression language classifier on sentence embeddings.

Uses the Universal Dependencies sentences in tests/data/ud_pud (CC BY-SA; see
tests/data/README.md) as labelled data: 12 languages, a few dozen sentences each.

    python examples/language_classifier.py                      # mBERT
    python examples/language_classifier.py --model path/to/model --per-language 30
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "ud_pud"


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="bert_base_multilingual_cased")
    parser.add_argument("--per-language", type=int, default=60)
    parser.add_argument("--master", default="local[*]")
    args = parser.parse_args(argv)

    from pyspark.ml import Pipeline
    from pyspark.ml.classification import LogisticRegression
    from pyspark.ml.evaluation import MulticlassClassificationEvaluator
    from pyspark.ml.feature import StringIndexer
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F

    from sparkbert import (
        BertEmbeddings,
        DocumentAssembler,
        EmbeddingsFinisher,
        SentenceEmbeddings,
        Tokenizer,
    )

    rows = []
    for path in sorted(DATA.glob("*.first400.jsonl")):
        lang = path.name[:2]
        with open(path, encoding="utf-8") as f:
            for line in list(f)[: args.per_language]:
                rows.append((lang, json.loads(line)["text"]))
    spark = SparkSession.builder.master(args.master).appName("language-classifier").getOrCreate()
    df = spark.createDataFrame(rows, "lang string, text string")
    features = Pipeline(
        stages=[
            DocumentAssembler(),
            Tokenizer().setInputCols("document"),
            BertEmbeddings.pretrained(args.model).setInputCols("document", "token"),
            SentenceEmbeddings().setInputCols("document", "embeddings"),
            EmbeddingsFinisher(outputAsVector=True).setInputCols("sentence_embeddings").setOutputCols("vec"),
        ]
    )
    # Kept after the first pass: the split, the indexer, the classifier's iterations and the
    # evaluation each read the features again, and would run the model again without it.
    embedded = features.fit(df).transform(df).select("lang", F.col("vec")[0].alias("features")).cache()
    train, test = embedded.randomSplit([0.7, 0.3], seed=42)
    classifier = Pipeline(
        stages=[StringIndexer(inputCol="lang", outputCol="label"), LogisticRegression(maxIter=200)]
    ).fit(train)
    accuracy = MulticlassClassificationEvaluator(metricName="accuracy").evaluate(classifier.transform(test))
    print(f"language-identification accuracy on held-out sentences: {accuracy:.3f}")
    spark.stop()
    return float(accuracy)


if __name__ == "__main__":
    main()
