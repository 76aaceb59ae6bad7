"""The pyspark.ml stages. Their module paths are part of the saved-pipeline format."""
