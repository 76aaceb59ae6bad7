"""Helpers shared by the tests: fake Hub server, random BERT checkpoints."""
