"""Training: labelled ranking data, LightGBM lambdarank, evaluation, MLflow tracking and registry.

Modules (heavy libraries are imported inside functions, so importing any of these is cheap):

- :mod:`.config` -- the validated training configuration (``configs/default.yaml``).
- :mod:`.dataset` -- contract labels (net GMV), grading, time split, contiguous query groups.
- :mod:`.encoding` -- categorical features to integer codes, the all-float model matrix.
- :mod:`.metrics` -- NDCG@k, MAP@k and GMV captured per campaign, same code for every ranker.
- :mod:`.baselines` -- random, followers, engagement rate, past GMV.
- :mod:`.train` / :mod:`.tune` -- one fit with early stopping; the Optuna study.
- :mod:`.model` -- the ``RankerBundle`` (booster, features, categories; no MLflow).
- :mod:`.mlflow_io` / :mod:`.pyfunc` -- logging the bundle as a pyfunc model, ``load_ranker``.
- :mod:`.tracking` / :mod:`.registry` -- where runs live, what they record; aliases and tags.
- :mod:`.commands` -- ``train``, ``evaluate``, ``promote`` and ``format_metrics`` for the CLI.
"""
