"""MLflow pyfunc wrapper of a :class:`~creatorrank.training.model.RankerBundle`.

Kept apart from :mod:`.model` because subclassing ``PythonModel`` imports mlflow; only code
that logs or loads pyfunc models imports this module.

The pyfunc's input is the encoded all-float feature matrix (``RankerBundle.encode``); its
output is one raw score per row.
"""

from __future__ import annotations

import warnings

import mlflow.pyfunc
import numpy as np

from .model import PYFUNC_ARTIFACT, RankerBundle

with warnings.catch_warnings():  # mlflow advises type hints when the class is defined; the signature is explicit
    warnings.simplefilter("ignore", UserWarning)

    class RankerPyfunc(mlflow.pyfunc.PythonModel):
        """Scores rows with the bundle stored in the model's ``bundle`` artifact.

        Attributes
        ----------
        bundle_ : RankerBundle
            Loaded by :meth:`load_context`.
        """

        def load_context(self, context) -> None:
            self.bundle_ = RankerBundle.load(context.artifacts[PYFUNC_ARTIFACT])

        def predict(self, context, model_input, params=None) -> np.ndarray:
            """Raw scores of ``model_input`` (a DataFrame of the model's feature columns)."""
            return self.bundle_.predict(model_input)
