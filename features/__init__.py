"""Point-in-time features of creators for ranking decisions.

- :mod:`.specs`: the feature catalogue (names, families, plain-language meaning, direction).
- :mod:`.engine`: ``build_features``, ``training_matrix``, ``snapshot``, ``prepare``.
- :mod:`.indices`: peer percentiles and the seven named 0-100 indices.

The slow, obvious reference the engine is tested against lives with the tests
(``tests/feature_oracle.py``), not in the package.
"""
