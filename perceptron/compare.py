"""Single-layer vs MLP vs CNN on the same split: one call, one table."""

import time
import warnings

from sklearn.exceptions import ConvergenceWarning

MODEL_NAMES = ("perceptron", "mlp", "cnn")

#: epochs (``max_iter``) of each model on the small digits set: enough for
#: each to converge (training then stops by itself, usually well before)
DIGITS_EPOCHS = {"perceptron": 200, "mlp": 300, "cnn": 100}
#: epochs on the 28x28 data sets, where one epoch takes seconds to minutes
EPOCHS_28X28 = 10


def make_estimator(model, dataset="digits", *, epochs=None, random_state=0, n_threads=None,
                   verbose=False):
    """The project's standard configuration of ``model`` for ``dataset``.

    These are the settings the command line and :func:`compare` use: on the
    8x8 digits the CNN has two conv blocks (a third 2x2 pooling would leave
    1x1 maps); 28x28 images get the default networks.

    Parameters
    ----------
    model : {"perceptron", "mlp", "cnn"}
    dataset : {"digits", "mnist", "fashion-mnist"}, default="digits"
    epochs : int or None, default=None
        ``max_iter``; None means 10 on the 28x28 data sets and, on the small
        digits set, 200 for the perceptron, 300 for the MLP and 100 for the CNN
        (each converges and stops before).
    random_state : int or None, default=0
    n_threads : int or None, default=None
    verbose : bool or int, default=False
        The estimator's ``verbose``: 1 shows a progress bar, 2 also one line
        per epoch.

    Returns
    -------
    estimator : PerceptronClassifier, MLPDigitClassifier or ConvDigitClassifier
        Unfitted.

    Examples
    --------
    >>> from perceptron.compare import make_estimator
    >>> make_estimator("mlp", "fashion-mnist")
    MLPDigitClassifier(hidden_layer_sizes=(100, 100), max_iter=10, random_state=0)
    """
    from . import ConvDigitClassifier, MLPDigitClassifier, PerceptronClassifier

    small = dataset == "digits"
    if model not in MODEL_NAMES:
        raise ValueError(f"unknown model {model!r}; expected one of {list(MODEL_NAMES)}")
    if epochs is None:
        epochs = DIGITS_EPOCHS[model] if small else EPOCHS_28X28
    common = dict(max_iter=epochs, random_state=random_state, n_threads=n_threads,
                  verbose=verbose)
    if model == "perceptron":
        return PerceptronClassifier(**common)
    if model == "mlp":
        return MLPDigitClassifier(hidden_layer_sizes=(100,) if small else (100, 100), **common)
    if small:
        return ConvDigitClassifier(conv_layers=((32, 3), (64, 3)), dense_layers=(128,),
                                   dropout=0.4, batch_size=32, **common)
    return ConvDigitClassifier(**common)


def compare(models=MODEL_NAMES, dataset="digits", *, epochs=None, data_home=None,
            random_state=0, n_threads=None, verbose=False, download=True):
    """Train and evaluate several models on the same train/test split.

    Parameters
    ----------
    models : sequence of {"perceptron", "mlp", "cnn"} or estimators
        Names use :func:`make_estimator`; an estimator is used as given.
    dataset : {"digits", "mnist", "fashion-mnist"}, default="digits"
    epochs, random_state, n_threads, verbose
        Passed to :func:`make_estimator`.
    data_home : str or None, default=None
        Where MNIST / Fashion-MNIST live (see :mod:`perceptron.datasets`).
    download : bool, default=True
        Download a missing data set.

    Returns
    -------
    rows : list of dict
        One per model: ``model``, ``accuracy``, ``fit_time`` (s),
        ``predict_time`` (s, on the whole test set), ``epochs``,
        ``converged`` (False when ``max_iter`` ran out while the loss was
        still improving: the model's ConvergenceWarning, recorded here
        rather than shown), ``n_parameters``. :func:`format_comparison`
        prints them.

    Examples
    --------
    >>> from perceptron import compare
    >>> rows = compare(["perceptron", "mlp"])
    >>> [row["model"] for row in rows]
    ['perceptron', 'mlp']
    >>> all(row["accuracy"] > 0.9 for row in rows)
    True
    """
    from .datasets import load_dataset

    X_train, X_test, y_train, y_test = load_dataset(dataset, data_home=data_home,
                                                    download=download)
    rows = []
    for model in models:
        if isinstance(model, str):
            name = model
            est = make_estimator(model, dataset, epochs=epochs, random_state=random_state,
                                 n_threads=n_threads, verbose=verbose)
        else:
            name, est = type(model).__name__, model
        start = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            est.fit(X_train, y_train)
        fit_time = time.perf_counter() - start
        converged = True
        for warning in caught:
            if issubclass(warning.category, ConvergenceWarning):
                converged = False
            else:  # not ours to swallow
                warnings.warn_explicit(warning.message, warning.category, warning.filename,
                                       warning.lineno)
        start = time.perf_counter()
        accuracy = float((est.predict(X_test) == y_test).mean())
        predict_time = time.perf_counter() - start
        rows.append({
            "model": name,
            "accuracy": accuracy,
            "fit_time": fit_time,
            "predict_time": predict_time,
            "epochs": int(getattr(est, "n_iter_", 0)),
            "converged": converged,
            "n_parameters": est.n_params_,
        })
    return rows


def format_comparison(rows):
    """Rows from :func:`compare` as a Markdown table (a string).

    An epoch count marked ``*`` is a model that ran out of epochs while its
    loss was still improving (``"converged": False``); a note under the
    table says so.

    Examples
    --------
    >>> from perceptron.compare import format_comparison
    >>> print(format_comparison([{"model": "mlp", "accuracy": 0.975, "fit_time": 1.5,
    ...                           "predict_time": 0.01, "epochs": 10, "n_parameters": 100}]))
    | model | accuracy | fit time (s) | predict time (s) | epochs | parameters |
    |---|---|---|---|---|---|
    | mlp | 0.9750 | 1.50 | 0.010 | 10 | 100 |
    """
    lines = ["| model | accuracy | fit time (s) | predict time (s) | epochs | parameters |",
             "|---|---|---|---|---|---|"]
    unfinished = False
    for r in rows:
        mark = "" if r.get("converged", True) else "*"
        unfinished = unfinished or bool(mark)
        lines.append(f"| {r['model']} | {r['accuracy']:.4f} | {r['fit_time']:.2f} | "
                     f"{r['predict_time']:.3f} | {r['epochs']}{mark} | {r['n_parameters']} |")
    if unfinished:
        lines += ["", "epochs*: still improving when the epochs ran out (more may help)"]
    return "\n".join(lines)
