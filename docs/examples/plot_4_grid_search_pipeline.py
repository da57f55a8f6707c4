"""
====================================================
4. Pipelines and grid search with scikit-learn tools
====================================================

The estimators of this package are ordinary scikit-learn estimators, so
everything scikit-learn builds around estimators works with them:
pipelines, cross-validation, hyper-parameter search, cloning. This tutorial
puts an MLP in a :class:`~sklearn.pipeline.Pipeline` and tunes it with
:class:`~sklearn.model_selection.GridSearchCV`.
"""

# %%
# A pipeline
# ----------
# The digits arrive with pixels in [0, 1]. Suppose we want to standardise
# each pixel (zero mean, unit variance over the training set) before the
# network sees it. Putting the scaler and the classifier in one pipeline
# guarantees that the scaler is fitted on training data only, also inside
# each cross-validation fold.
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from perceptron import MLPDigitClassifier
from perceptron.datasets import load_dataset

warnings.filterwarnings("ignore", category=ConvergenceWarning)  # short runs on purpose

X_train, X_test, y_train, y_test = load_dataset("digits")

pipe = make_pipeline(StandardScaler(),
                     MLPDigitClassifier(hidden_layer_sizes=(64,), max_iter=30, random_state=0))
pipe.fit(X_train, y_train)
print(pipe)
print(f"test accuracy: {pipe.score(X_test, y_test):.3f}")

# %%
# Cross-validation
# ----------------
# One train/test split gives one number; 5-fold cross-validation on the
# training set gives five, and their spread tells how much of a difference
# between two models is noise.
scores = cross_val_score(pipe, X_train, y_train, cv=5)
print("fold accuracies:", np.round(scores, 3))
print(f"mean {scores.mean():.3f} +/- {scores.std():.3f}")

# %%
# Grid search
# -----------
# Parameters of a pipeline step are addressed as ``<step>__<parameter>``.
# We try three hidden-layer sizes and two L2 penalties: 6 candidates, each
# fitted on 3 folds, then the best one refitted on the whole training set.
# The search never touches the test set, which is used once at the end.
param_grid = {
    "mlpdigitclassifier__hidden_layer_sizes": [(16,), (64,), (128,)],
    "mlpdigitclassifier__alpha": [1e-4, 1e-1],
}
search = GridSearchCV(pipe, param_grid, cv=3)
search.fit(X_train, y_train)

print("best parameters:", search.best_params_)
print(f"best cross-validated accuracy: {search.best_score_:.3f}")
print(f"test accuracy of the refitted best model: {search.score(X_test, y_test):.3f}")

# %%
# ``cv_results_`` holds every candidate's scores; a small plot makes the
# effect of each parameter visible.
results = search.cv_results_
sizes = [s[0] for s in param_grid["mlpdigitclassifier__hidden_layer_sizes"]]
fig, ax = plt.subplots(figsize=(5, 3.5))
for alpha in param_grid["mlpdigitclassifier__alpha"]:
    mask = np.array([p["mlpdigitclassifier__alpha"] == alpha for p in results["params"]])
    ax.errorbar(sizes, results["mean_test_score"][mask], yerr=results["std_test_score"][mask],
                marker="o", capsize=3, label=f"alpha={alpha:g}")
ax.set_xlabel("hidden units")
ax.set_ylabel("cross-validated accuracy")
ax.set_xticks(sizes)
ax.legend()
fig.tight_layout()
plt.show()

# %%
# Threads inside a search
# -----------------------
# Each fit already uses every core through the OpenMP kernels (see
# :ref:`threads`). ``GridSearchCV(n_jobs=2)`` would start two fits at once,
# each wanting all cores. On a small machine, either keep ``n_jobs=1`` (as
# above) or give each estimator ``n_threads=1`` and let ``n_jobs`` run the
# fits side by side, never both.
