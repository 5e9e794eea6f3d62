"""Point-in-time features of creators for ranking decisions.

- :mod:`.catalogue`: one module per feature family: each feature's spec, computation and words.
- :mod:`.specs`: the catalogue assembled (names, families, meaning, direction) and its version.
- :mod:`.rules`: the rule constants and index recipes (part of the version).
- :mod:`.window`: the window edges and sums the features of a batch of decisions share.
- :mod:`.engine`: ``build_features``, ``training_matrix``, ``snapshot``, ``prepare``.
- :mod:`.indices`: peer percentiles and the seven named 0-100 indices.

The slow, obvious reference the engine is tested against lives with the tests
(``tests/feature_oracle.py``), not in the package.
"""
