"""Evaluation report of a classifier on a test set.

Everything is computed by :mod:`sklearn.metrics`; this module only gathers
the numbers in one JSON-serialisable dict (plain ``int``, ``float``, ``str``,
``list`` and ``dict``: it can be written with :func:`json.dump` as is) and
formats it as text.
"""

import numbers

import numpy as np
from sklearn.metrics import (accuracy_score, classification_report, confusion_matrix,
                             precision_recall_fscore_support)
from sklearn.utils.multiclass import unique_labels
from sklearn.utils.validation import check_consistent_length, check_is_fitted

__all__ = ["classification_summary", "format_summary", "summary_from_predictions"]


def _builtin(value):
    """A NumPy scalar or label as a plain JSON-serialisable Python value."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, (bool, str)) or value is None:
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    return str(value)


def _class_names(estimator):
    """``{label: name}`` from a fitted estimator's ``class_names_``, or None.

    Only this package's estimators can carry ``class_names_`` (see
    :class:`~perceptron.MLPDigitClassifier`); for any other, or when the
    names do not match ``classes_``, the labels are their own names.
    """
    names = getattr(estimator, "class_names_", None)
    classes = getattr(estimator, "classes_", None)
    if names is None or classes is None or len(names) != len(classes):
        return None
    return {_builtin(label): str(name) for label, name in zip(classes, names)}


def _scores(precision, recall, f1, support):
    return {"precision": float(precision), "recall": float(recall), "f1": float(f1),
            "support": int(support)}


def summary_from_predictions(y_true, y_pred, *, labels=None, target_names=None,
                             top_confusions=5, digits=4):
    """Evaluation summary of predictions ``y_pred`` against labels ``y_true``.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels.
    y_pred : array-like of shape (n_samples,)
        Predicted labels.
    labels : array-like of shape (n_classes,), default=None
        The classes to report, in this order. None means every label found in
        ``y_true`` or ``y_pred``, sorted.
    target_names : list of str, default=None
        Display name of each of ``labels``. None means ``str(label)``.
    top_confusions : int or None, default=5
        Number of most-confused pairs to keep; None keeps them all.
    digits : int, default=4
        Digits of the floats in the ``"report"`` text.

    Returns
    -------
    summary : dict
        JSON-serialisable, with keys:

        - ``"n_samples"``: int;
        - ``"accuracy"``: float, the fraction of correct predictions;
        - ``"labels"``, ``"target_names"``: the classes and their names;
        - ``"per_class"``: list, one dict per class with ``"label"``,
          ``"name"``, ``"precision"``, ``"recall"``, ``"f1"`` and
          ``"support"`` (number of true samples of the class);
        - ``"macro_avg"``, ``"weighted_avg"``: dicts with ``"precision"``,
          ``"recall"``, ``"f1"`` and ``"support"`` (all samples);
        - ``"confusion_matrix"``: list of lists of int, ``[i][j]`` counts the
          samples of class ``labels[i]`` predicted as ``labels[j]``;
        - ``"top_confusions"``: list of dicts ``{"true", "predicted",
          "count"}`` (labels, not names), the off-diagonal cells of the
          confusion matrix with a non-zero count, largest first (ties in
          matrix order);
        - ``"report"``: the text of
          :func:`sklearn.metrics.classification_report`.

        A class without predicted (or true) samples gets precision (or
        recall) 0, without a warning.

    See Also
    --------
    classification_summary : The same from a fitted estimator and a test set.
    format_summary : The summary as a text report.

    Examples
    --------
    >>> from perceptron.metrics import summary_from_predictions
    >>> summary = summary_from_predictions([0, 0, 1, 1, 2, 2], [0, 1, 1, 1, 2, 0])
    >>> summary["accuracy"]
    0.6666666666666666
    >>> summary["confusion_matrix"]
    [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    >>> row = summary["per_class"][1]
    >>> row["label"], row["precision"], row["recall"], row["f1"], row["support"]
    (1, 0.6666666666666666, 1.0, 0.8, 2)
    >>> summary["top_confusions"]
    [{'true': 0, 'predicted': 1, 'count': 1}, {'true': 2, 'predicted': 0, 'count': 1}]
    """
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    if y_true.ndim != 1 or y_pred.ndim != 1:
        raise ValueError(
            f"y_true and y_pred must be 1D arrays of labels, got shapes {y_true.shape} "
            f"and {y_pred.shape}")
    check_consistent_length(y_true, y_pred)
    if y_true.shape[0] == 0:
        raise ValueError("y_true and y_pred are empty: nothing to evaluate")
    if top_confusions is not None and (
            not isinstance(top_confusions, numbers.Integral)
            or isinstance(top_confusions, bool) or top_confusions < 0):
        raise ValueError(
            f"top_confusions must be None or a non-negative int, got {top_confusions!r}")
    if labels is None:
        labels = unique_labels(y_true, y_pred)
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.shape[0] == 0:
        raise ValueError(f"labels must be a non-empty 1D list of classes, got {labels!r}")
    if target_names is None:
        target_names = [str(_builtin(label)) for label in labels]
    else:
        target_names = [str(name) for name in target_names]
        if len(target_names) != len(labels):
            raise ValueError(
                f"target_names has {len(target_names)} names but there are "
                f"{len(labels)} labels: {[_builtin(lab) for lab in labels]}")

    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0)
    averages = {}
    for average in ("macro", "weighted"):
        p, r, f, _ = precision_recall_fscore_support(
            y_true, y_pred, labels=labels, average=average, zero_division=0)
        averages[average] = _scores(p, r, f, support.sum())
    cm = confusion_matrix(y_true, y_pred, labels=labels)

    off = cm.copy()
    np.fill_diagonal(off, 0)
    rows, cols = np.nonzero(off)
    # largest count first; np.nonzero is in row-major order, and the sort is stable
    order = np.argsort(-off[rows, cols], kind="stable")
    if top_confusions is not None:
        order = order[:top_confusions]
    labels_out = [_builtin(label) for label in labels]
    confusions = [{"true": labels_out[rows[k]], "predicted": labels_out[cols[k]],
                   "count": int(off[rows[k], cols[k]])} for k in order]

    return {
        "n_samples": int(y_true.shape[0]),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "labels": labels_out,
        "target_names": target_names,
        "per_class": [
            {"label": label, "name": name, **_scores(p, r, f, s)}
            for label, name, p, r, f, s in zip(labels_out, target_names, precision,
                                                recall, f1, support)
        ],
        "macro_avg": averages["macro"],
        "weighted_avg": averages["weighted"],
        "confusion_matrix": cm.tolist(),
        "top_confusions": confusions,
        "report": classification_report(y_true, y_pred, labels=labels,
                                        target_names=target_names, digits=digits,
                                        zero_division=0),
    }


def classification_summary(estimator, X, y, *, labels=None, target_names=None,
                           top_confusions=5, digits=4):
    """Evaluation summary of a fitted classifier on a test set ``(X, y)``.

    ``estimator.predict(X)`` is compared with ``y`` by
    :func:`summary_from_predictions`. Unless ``labels`` is given, the classes
    are the estimator's ``classes_`` (so that a class missing from the test
    set still gets its row) plus any other label found in ``y``.

    Parameters
    ----------
    estimator : fitted classifier
        Anything with ``predict`` (a pipeline too).
    X : array-like
        Test samples, as ``estimator.predict`` takes them.
    y : array-like of shape (n_samples,)
        True labels of ``X``.
    labels : array-like of shape (n_classes,), default=None
        The classes to report, in this order.
    target_names : list of str, default=None
        Display name of each class. None means the estimator's
        ``class_names_`` when it has them, else ``str(label)``.
    top_confusions : int or None, default=5
        Number of most-confused pairs to keep; None keeps them all.
    digits : int, default=4
        Digits of the floats in the ``"report"`` text.

    Returns
    -------
    summary : dict
        See :func:`summary_from_predictions` for the keys.

    Raises
    ------
    sklearn.exceptions.NotFittedError
        If the estimator is not fitted.

    Examples
    --------
    >>> import json
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.linear_model import RidgeClassifier
    >>> from sklearn.model_selection import train_test_split
    >>> from perceptron.metrics import classification_summary, format_summary
    >>> X, y = load_digits(return_X_y=True)
    >>> X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    >>> clf = RidgeClassifier().fit(X_train, y_train)
    >>> summary = classification_summary(clf, X_test, y_test)
    >>> round(summary["accuracy"], 2)
    0.92
    >>> len(summary["confusion_matrix"]), summary["top_confusions"][0]
    (10, {'true': 3, 'predicted': 9, 'count': 4})
    >>> json.loads(json.dumps(summary)) == summary
    True
    >>> print(format_summary(summary).splitlines()[0])
    Classification report (450 samples)
    """
    check_is_fitted(estimator)
    y = np.asarray(y)
    y_pred = np.asarray(estimator.predict(X))
    if labels is None and hasattr(estimator, "classes_"):
        labels = np.asarray(estimator.classes_)
        extra = np.setdiff1d(unique_labels(y), labels)
        if extra.size:
            labels = np.concatenate([labels, extra])
        names = _class_names(estimator)
        if target_names is None and names is not None:
            target_names = [names.get(_builtin(label), str(_builtin(label)))
                            for label in labels]
    return summary_from_predictions(y, y_pred, labels=labels, target_names=target_names,
                                    top_confusions=top_confusions, digits=digits)


def format_summary(summary):
    """The summary as a text report.

    Parameters
    ----------
    summary : dict
        From :func:`classification_summary` or :func:`summary_from_predictions`
        (or their JSON round trip).

    Returns
    -------
    text : str
        The :func:`~sklearn.metrics.classification_report` table, the
        accuracy, and the most-confused pairs (by class name).

    Examples
    --------
    >>> from perceptron.metrics import format_summary, summary_from_predictions
    >>> summary = summary_from_predictions(["cat", "cat", "dog", "dog"],
    ...                                    ["cat", "dog", "dog", "dog"])
    >>> print(format_summary(summary))
    Classification report (4 samples)
    <BLANKLINE>
                  precision    recall  f1-score   support
    <BLANKLINE>
             cat     1.0000    0.5000    0.6667         2
             dog     0.6667    1.0000    0.8000         2
    <BLANKLINE>
        accuracy                         0.7500         4
       macro avg     0.8333    0.7500    0.7333         4
    weighted avg     0.8333    0.7500    0.7333         4
    <BLANKLINE>
    Accuracy: 0.7500 (3 of 4 correct)
    <BLANKLINE>
    Most confused pairs (true -> predicted: count):
      cat -> dog: 1
    """
    missing = {"n_samples", "accuracy", "labels", "target_names", "confusion_matrix",
               "top_confusions", "report"} - set(summary)
    if missing:
        raise ValueError(f"summary is missing the keys {sorted(missing)}; build it "
                         "with classification_summary or summary_from_predictions")
    n = summary["n_samples"]
    names = dict(zip(summary["labels"], summary["target_names"]))
    n_correct = int(round(summary["accuracy"] * n))
    lines = [f"Classification report ({n} samples)", "", summary["report"].rstrip("\n"),
             "", f"Accuracy: {summary['accuracy']:.4f} ({n_correct} of {n} correct)",
             ""]
    if summary["top_confusions"]:
        lines.append("Most confused pairs (true -> predicted: count):")
        for pair in summary["top_confusions"]:
            lines.append(f"  {names.get(pair['true'], pair['true'])} -> "
                         f"{names.get(pair['predicted'], pair['predicted'])}: "
                         f"{pair['count']}")
    elif n_correct == n:
        lines.append("No misclassified samples.")
    else:
        lines.append("Most confused pairs: not kept (top_confusions=0).")
    return "\n".join(lines)

