"""MLflow pyfunc wrapper of a :class:`~creatorrank.training.model.RankerBundle`.

Kept apart from :mod:`.model` because subclassing ``PythonModel`` imports mlflow; only code
that logs or loads pyfunc models imports this module.

The pyfunc's input is the encoded all-float feature matrix (``RankerBundle.encode``); its
output is one raw score per row. The input is checked against the logged signature; the
``pd.DataFrame`` type hint tells MLflow not to infer another one from the code. The bundle
folder also holds the value model (``bundle_.value``, :mod:`.value`) when it was trained
with one: a registered version is the ranker and its value model together.
"""

from __future__ import annotations

import mlflow.pyfunc
import numpy as np
import pandas as pd

from .model import PYFUNC_ARTIFACT, RankerBundle


class RankerPyfunc(mlflow.pyfunc.PythonModel):
    """Scores rows with the bundle stored in the model's ``bundle`` artifact.

    Attributes
    ----------
    bundle_ : RankerBundle
        Loaded by :meth:`load_context`.
    """

    def load_context(self, context) -> None:
        self.bundle_ = RankerBundle.load(context.artifacts[PYFUNC_ARTIFACT])

    def predict(self, context, model_input: pd.DataFrame, params=None) -> np.ndarray:
        """Raw scores of ``model_input`` (a DataFrame of the model's feature columns)."""
        return self.bundle_.predict(model_input)
