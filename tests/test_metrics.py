"""Tests of perceptron.metrics: evaluation summaries, checked against
sklearn.metrics and against numbers computed by hand."""

import json

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import (classification_report, confusion_matrix,
                             precision_recall_fscore_support)
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler
from threadpoolctl import threadpool_limits

from perceptron.metrics import (classification_summary, format_summary,
                                summary_from_predictions)

# a 3-class example worked out by hand
Y_TRUE = [0, 0, 0, 1, 1, 2, 2, 2, 2, 2]
Y_PRED = [0, 0, 1, 1, 2, 2, 2, 1, 0, 1]
# confusion matrix (rows: true, columns: predicted)
#   [[2, 1, 0],
#    [0, 1, 1],
#    [1, 2, 2]]
# column sums 3, 4, 3; row sums (support) 3, 2, 5; 5 of 10 correct
PRECISION = [2 / 3, 1 / 4, 2 / 3]
RECALL = [2 / 3, 1 / 2, 2 / 5]
F1 = [2 / 3, 1 / 3, 1 / 2]  # 2pr / (p + r)
MACRO = {"precision": 19 / 36, "recall": 47 / 90, "f1": 1 / 2, "support": 10}
WEIGHTED = {"precision": 7 / 12, "recall": 1 / 2, "f1": 31 / 60, "support": 10}


def assert_plain_json(value):
    """Only built-in JSON types, recursively (no NumPy scalars or arrays)."""
    if isinstance(value, dict):
        for key, item in value.items():
            assert isinstance(key, str)
            assert_plain_json(item)
    elif isinstance(value, list):
        for item in value:
            assert_plain_json(item)
    else:
        assert type(value) in (int, float, str, bool, type(None)), (value, type(value))


@pytest.fixture(scope="module")
def digits_model():
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    # one BLAS thread: on a busy 2-core machine, threaded BLAS in lbfgs can be
    # two orders of magnitude slower
    with threadpool_limits(1):
        clf = LogisticRegression(max_iter=500).fit(X[:1200], y[:1200])
    return clf, X[1200:], y[1200:]


# ----------------------------------------------------------- hand-made case
def test_numbers_computed_by_hand():
    s = summary_from_predictions(Y_TRUE, Y_PRED)
    assert s["n_samples"] == 10
    assert s["accuracy"] == pytest.approx(0.5)
    assert s["labels"] == [0, 1, 2]
    assert s["target_names"] == ["0", "1", "2"]
    assert s["confusion_matrix"] == [[2, 1, 0], [0, 1, 1], [1, 2, 2]]
    for k, row in enumerate(s["per_class"]):
        assert row["label"] == k and row["name"] == str(k)
        assert row["precision"] == pytest.approx(PRECISION[k])
        assert row["recall"] == pytest.approx(RECALL[k])
        assert row["f1"] == pytest.approx(F1[k])
    assert [row["support"] for row in s["per_class"]] == [3, 2, 5]
    assert s["macro_avg"] == pytest.approx(MACRO)
    assert s["weighted_avg"] == pytest.approx(WEIGHTED)
    # by count, then in matrix order among ties
    assert s["top_confusions"] == [
        {"true": 2, "predicted": 1, "count": 2},
        {"true": 0, "predicted": 1, "count": 1},
        {"true": 1, "predicted": 2, "count": 1},
        {"true": 2, "predicted": 0, "count": 1},
    ]


def test_top_confusions_parameter():
    assert summary_from_predictions(Y_TRUE, Y_PRED, top_confusions=2)["top_confusions"] == [
        {"true": 2, "predicted": 1, "count": 2},
        {"true": 0, "predicted": 1, "count": 1},
    ]
    assert len(summary_from_predictions(Y_TRUE, Y_PRED, top_confusions=None)
               ["top_confusions"]) == 4
    assert summary_from_predictions(Y_TRUE, Y_PRED, top_confusions=0)["top_confusions"] == []


def test_json_round_trip():
    s = summary_from_predictions(np.array(Y_TRUE), np.array(Y_PRED))
    assert_plain_json(s)
    text = json.dumps(s)
    assert json.loads(text) == s
    assert format_summary(json.loads(text)) == format_summary(s)


def test_string_labels_and_target_names():
    y_true = np.array(["cat", "dog", "bird", "dog", "cat", "bird", "bird"])
    y_pred = np.array(["cat", "cat", "bird", "dog", "cat", "dog", "dog"])
    s = summary_from_predictions(y_true, y_pred)
    assert_plain_json(s)
    assert s["labels"] == ["bird", "cat", "dog"]
    assert s["accuracy"] == pytest.approx(4 / 7)
    assert s["confusion_matrix"] == [[1, 0, 2], [0, 2, 0], [0, 1, 1]]
    assert s["top_confusions"][0] == {"true": "bird", "predicted": "dog", "count": 2}
    assert s["per_class"][0]["name"] == "bird"

    named = summary_from_predictions(y_true, y_pred, labels=["cat", "dog", "bird"],
                                     target_names=["Cat", "Dog", "Bird"])
    assert named["labels"] == ["cat", "dog", "bird"]
    assert named["confusion_matrix"] == [[2, 0, 0], [1, 1, 0], [0, 2, 1]]
    text = format_summary(named)
    assert "  Bird -> Dog: 2" in text
    assert "Cat" in text and "cat " not in text


# ------------------------------------------------------ a fitted classifier
def test_real_classifier_agrees_with_sklearn(digits_model):
    clf, X_test, y_test = digits_model
    s = classification_summary(clf, X_test, y_test)
    assert_plain_json(s)
    y_pred = clf.predict(X_test)
    assert s["n_samples"] == len(y_test)
    assert s["accuracy"] == pytest.approx(clf.score(X_test, y_test))
    assert s["accuracy"] > 0.85
    np.testing.assert_array_equal(s["confusion_matrix"], confusion_matrix(y_test, y_pred))
    p, r, f, sup = precision_recall_fscore_support(y_test, y_pred)
    np.testing.assert_allclose([row["precision"] for row in s["per_class"]], p)
    np.testing.assert_allclose([row["recall"] for row in s["per_class"]], r)
    np.testing.assert_allclose([row["f1"] for row in s["per_class"]], f)
    assert [row["support"] for row in s["per_class"]] == sup.tolist()
    report = classification_report(y_test, y_pred, output_dict=True)
    for key, name in (("macro_avg", "macro avg"), ("weighted_avg", "weighted avg")):
        assert s[key]["precision"] == pytest.approx(report[name]["precision"])
        assert s[key]["recall"] == pytest.approx(report[name]["recall"])
        assert s[key]["f1"] == pytest.approx(report[name]["f1-score"])
        assert s[key]["support"] == len(y_test)
    assert s["report"] == classification_report(y_test, y_pred, digits=4)
    # the most confused pairs are the largest off-diagonal cells, sorted
    counts = [pair["count"] for pair in s["top_confusions"]]
    assert len(counts) == 5 and counts == sorted(counts, reverse=True)
    cm = np.array(s["confusion_matrix"])
    off = cm - np.diag(np.diag(cm))
    assert counts[0] == off.max()
    for pair in s["top_confusions"]:
        assert cm[pair["true"], pair["predicted"]] == pair["count"]
        assert pair["true"] != pair["predicted"]


def test_same_as_from_predictions(digits_model):
    clf, X_test, y_test = digits_model
    assert classification_summary(clf, X_test, y_test) == summary_from_predictions(
        y_test, clf.predict(X_test))


def test_class_missing_from_test_set_keeps_its_row(digits_model):
    clf, X_test, y_test = digits_model
    keep = y_test != 9
    s = classification_summary(clf, X_test[keep], y_test[keep])
    assert s["labels"] == list(range(10))
    assert s["per_class"][9]["support"] == 0
    assert s["per_class"][9]["recall"] == 0.0
    assert s["confusion_matrix"][9] == [0] * 10


def test_pipeline_and_target_names():
    X, y = load_digits(return_X_y=True)
    with threadpool_limits(1):
        pipe = make_pipeline(MinMaxScaler(), LogisticRegression(max_iter=300))
        pipe.fit(X[:600], y[:600])
    names = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight",
             "nine"]
    s = classification_summary(pipe, X[600:900], y[600:900], target_names=names)
    assert s["target_names"] == names
    assert [row["name"] for row in s["per_class"]] == names
    assert "       eight" in s["report"]


# ------------------------------------------------------------------- text
def test_format_summary_text():
    s = summary_from_predictions(Y_TRUE, Y_PRED, digits=2)
    text = format_summary(s)
    lines = text.splitlines()
    assert lines[0] == "Classification report (10 samples)"
    assert classification_report(Y_TRUE, Y_PRED, digits=2).rstrip() in text
    assert "Accuracy: 0.5000 (5 of 10 correct)" in text
    i = lines.index("Most confused pairs (true -> predicted: count):")
    assert lines[i + 1:] == ["  2 -> 1: 2", "  0 -> 1: 1", "  1 -> 2: 1", "  2 -> 0: 1"]


def test_format_summary_without_errors_or_pairs():
    perfect = format_summary(summary_from_predictions([1, 2, 3], [1, 2, 3]))
    assert "Accuracy: 1.0000 (3 of 3 correct)" in perfect
    assert perfect.endswith("No misclassified samples.")
    cut = format_summary(summary_from_predictions(Y_TRUE, Y_PRED, top_confusions=0))
    assert "not kept" in cut and "->" not in cut


# ----------------------------------------------------------------- errors
def test_not_fitted():
    X, y = load_digits(return_X_y=True)
    with pytest.raises(NotFittedError):
        classification_summary(LogisticRegression(), X[:10], y[:10])


@pytest.mark.parametrize("kwargs, match", [
    (dict(y_true=[0, 1], y_pred=[0, 1, 1]), "inconsistent numbers of samples"),
    (dict(y_true=[], y_pred=[]), "empty"),
    (dict(y_true=[[0, 1]], y_pred=[[0, 1]]), "1D arrays of labels"),
    (dict(y_true=Y_TRUE, y_pred=Y_PRED, target_names=["a", "b"]),
     "target_names has 2 names but there are 3 labels"),
    (dict(y_true=Y_TRUE, y_pred=Y_PRED, top_confusions=-1), "top_confusions must be"),
    (dict(y_true=Y_TRUE, y_pred=Y_PRED, top_confusions=2.5), "top_confusions must be"),
    (dict(y_true=Y_TRUE, y_pred=Y_PRED, labels=[]), "labels must be a non-empty"),
])
def test_bad_inputs(kwargs, match):
    with pytest.raises(ValueError, match=match):
        summary_from_predictions(**kwargs)


def test_format_summary_needs_a_summary():
    with pytest.raises(ValueError, match="summary is missing the keys"):
        format_summary({"accuracy": 1.0})


def test_class_names_of_the_estimator_name_the_classes():
    from perceptron import PerceptronClassifier

    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    clf = PerceptronClassifier(random_state=0).fit(X[:1200], y[:1200])
    plain = classification_summary(clf, X[1200:], y[1200:])
    assert plain["target_names"] == [str(k) for k in range(10)]
    names = [f"digit {k}" for k in range(10)]
    clf.class_names_ = names
    summary = classification_summary(clf, X[1200:], y[1200:])
    assert summary["target_names"] == names and summary["labels"] == list(range(10))
    assert "digit 3" in format_summary(summary)
    # given target_names win; names that do not fit the classes are not used
    assert classification_summary(clf, X[1200:], y[1200:],
                                  target_names=list("abcdefghij"))["target_names"][0] == "a"
    clf.class_names_ = names[:3]
    assert classification_summary(clf, X[1200:], y[1200:])["target_names"][0] == "0"
