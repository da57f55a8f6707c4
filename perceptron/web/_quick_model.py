"""The model ``perceptron serve`` uses when it is given none.

A small CNN trained on scikit-learn's 8 x 8 digits (bundled, no download),
*after* the same preprocessing the page's drawings go through, so that what
it learned looks like what it will be shown. It trains in seconds and is
kept in the data home (:func:`perceptron.datasets.get_data_home`), never in
the working folder, and reused the next time.
"""

import os
import warnings

from sklearn.exceptions import ConvergenceWarning

#: where the quick model is kept, under the data home
QUICK_MODEL_PATH = os.path.join("web", "quick-digits-cnn.npz")


def train_quick_model(*, epochs=None, random_state=0, n_threads=None):
    """A CNN fitted on the preprocessed 8 x 8 digits; its held-out accuracy.

    The network and its training are the command line's for a CNN on the
    digits (:func:`perceptron.compare.make_estimator`); ``epochs``,
    ``random_state`` and ``n_threads`` are passed to it.

    Returns
    -------
    estimator : ConvDigitClassifier
    accuracy : float
        On the digits' test split, preprocessed alike.
    """
    from ..compare import make_estimator
    from ..datasets import load_dataset
    from ..preprocessing import DigitImagePreprocessor, digit_field

    X_train, X_test, y_train, y_test = load_dataset("digits")
    size, box = digit_field(X_train.shape[1])
    prep = DigitImagePreprocessor(size=size, box=box)
    X_train = prep.transform(X_train.reshape(-1, size, size))
    X_test = prep.transform(X_test.reshape(-1, size, size))
    est = make_estimator("cnn", "digits", epochs=epochs, random_state=random_state,
                         n_threads=n_threads)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X_train, y_train)
    return est, float(est.score(X_test, y_test))


def quick_model(data_home=None, *, epochs=None, n_threads=None, log=print):
    """The cached quick model, trained (and cached) first if there is none.

    Parameters
    ----------
    data_home : str or None, default=None
        See :func:`perceptron.datasets.get_data_home`.
    epochs, n_threads : int or None, default=None
        For the training, when it must be trained (None: the command line's
        defaults for a CNN on digits: 30 epochs, every core).
    log : callable, default=print
        Told what happens, one line at a time.

    Returns
    -------
    estimator : ConvDigitClassifier
    description : str
        What it is and where it is kept, for the user.

    Examples
    --------
    >>> import tempfile
    >>> from perceptron.web import quick_model
    >>> home = tempfile.mkdtemp()
    >>> est, about = quick_model(home, epochs=2, n_threads=1)
    No model given: training a quick CNN on the 8x8 digits (a few seconds; ...
    >>> est, about = quick_model(home)  # the second time: read from the data home
    >>> about.startswith("the quick digits CNN cached at")
    True
    """
    from .. import load
    from ..datasets import get_data_home

    path = os.path.join(get_data_home(data_home), QUICK_MODEL_PATH)
    if os.path.exists(path):
        try:
            return load(path), f"the quick digits CNN cached at {path}"
        except ValueError as exc:  # an older format, a damaged file: train it again
            log(f"the cached quick model at {path} cannot be read ({exc}); training it again")
    log("No model given: training a quick CNN on the 8x8 digits (a few seconds; "
        "cached for next time) ...")
    est, accuracy = train_quick_model(epochs=epochs, n_threads=n_threads)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    est.save(path)
    return est, (f"a quick digits CNN ({accuracy:.1%} right on held-out digits), "
                 f"cached at {path}")
