"""Training you can watch and steer (issue #12) and all-or-nothing training calls (#18.3).

A validation set and ``history_``; the callbacks (early stopping that really
restores, checkpoints that load and resume, schedules, CSV logs) surviving
clone, pickling and grid search; Ctrl-C leaving a consistent model; a failed
``fit`` or ``partial_fit`` leaving the estimator exactly as it was.
"""

import _thread
import csv
import math
import pickle
import signal
import threading
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.metrics import log_loss
from sklearn.model_selection import GridSearchCV

import perceptron
from perceptron import ConvDigitClassifier, MLPDigitClassifier, PerceptronClassifier
from perceptron._dense_stack import DenseStackNetwork
from perceptron._engine import make_network
from perceptron._network import Network
from perceptron.callbacks import (Callback, CSVLogger, EarlyStopping, LearningRateScheduler,
                                  ModelCheckpoint)
from perceptron.cli import main
from perceptron.datasets import load_dataset
from perceptron.layers import Dense, Dropout

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def digits():
    """A small fixed split of the bundled digits: 600 training, 300 validation images."""
    X_train, X_test, y_train, y_test = load_dataset("digits")
    return X_train[:600], X_test[:300], y_train[:600], y_test[:300]


def mlp(**params):
    return MLPDigitClassifier(**{"hidden_layer_sizes": (16,), "max_iter": 5,
                                 "random_state": 0, **params})


def cnn(**params):
    return ConvDigitClassifier(**{"conv_layers": ((4, 3),), "dense_layers": (), "max_iter": 3,
                                  "batch_size": 64, "random_state": 0, **params})


@pytest.fixture(autouse=True)
def sigint_raises_keyboard_interrupt():
    """Python's own SIGINT handler, as in a terminal: a run started in the
    background (``pytest &`` in a script) inherits SIGINT ignored, and then
    Python never turns it into KeyboardInterrupt."""
    previous = signal.getsignal(signal.SIGINT)
    if previous is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def n_steps(est):
    return est._optimizer.n_steps


class Recorder(Callback):
    """Remembers every call it gets, and what the estimator predicted at each epoch end."""

    def __init__(self, X=None):
        self.X = X

    def on_train_begin(self, estimator):
        self.calls, self.proba = ["begin"], []

    def on_epoch_begin(self, estimator, epoch):
        self.calls.append(("epoch_begin", epoch))

    def on_epoch_end(self, estimator, epoch, logs):
        self.calls.append(("epoch_end", epoch, sorted(logs)))
        if self.X is not None:
            self.proba.append(estimator.predict_proba(self.X))

    def on_train_end(self, estimator):
        self.calls.append("end")


# --------------------------------------------------------------- validation set, history_
@pytest.mark.parametrize("make", [mlp, cnn, lambda **p: PerceptronClassifier(max_iter=4, **p)])
def test_history_has_one_entry_per_epoch_and_validation_figures(make, digits):
    X, X_val, y, y_val = digits
    est = make().fit(X, y, X_val=X_val, y_val=y_val)
    h = est.history_
    assert list(h) == ["loss", "score", "val_loss", "val_score", "lr", "time"]
    assert all(len(v) == est.n_iter_ == len(est.loss_curve_) for v in h.values())
    assert h["loss"] == est.loss_curve_ and h["score"] == est.train_scores_
    assert h["val_score"] == est.validation_scores_
    assert all(t > 0 for t in h["time"]) and est.fit_time_ == pytest.approx(sum(h["time"]))
    # the last epoch's validation figures are those of the weights the estimator holds
    proba = est.predict_proba(X_val)
    assert h["val_loss"][-1] == pytest.approx(log_loss(y_val, proba, labels=est.classes_),
                                              rel=1e-4)
    assert h["val_score"][-1] == est.score(X_val, y_val)
    # partial_fit appends a row without validation figures (n_iter_ counts its one epoch)
    est.partial_fit(X, y)
    assert est.n_iter_ == 1
    assert all(len(v) == len(est.loss_curve_) for v in h.values())
    assert math.isnan(h["val_loss"][-1]) and h["loss"][-1] == est.loss_


def test_history_without_validation_and_when_it_appears_later(digits):
    X, X_val, y, y_val = digits
    est = mlp(max_iter=2).fit(X, y)
    assert list(est.history_) == ["loss", "score", "lr", "time"]
    assert est.validation_scores_ is None
    est.set_params(warm_start=True).fit(X, y, X_val=X_val, y_val=y_val)
    h = est.history_
    assert list(h) == ["loss", "score", "val_loss", "val_score", "lr", "time"]
    assert all(len(v) == len(est.loss_curve_) == 4 for v in h.values())
    assert est.n_iter_ == 2  # the warm-started fit's epochs
    assert np.isnan(h["val_loss"][:2]).all() and not np.isnan(h["val_loss"][2:]).any()


def test_val_loss_includes_the_l2_term_of_the_training_loss(digits):
    X, X_val, y, y_val = digits
    est = mlp(alpha=1.0, max_iter=2, batch_size=50).fit(X, y, X_val=X_val, y_val=y_val)
    data_loss = log_loss(y_val, est.predict_proba(X_val), labels=est.classes_)
    squares = sum(float(np.sum(w.astype(np.float64) ** 2)) for w in est.coefs_)
    assert est.history_["val_loss"][-1] == pytest.approx(data_loss + 0.5 * squares / 50,
                                                         rel=1e-4)


@pytest.mark.parametrize("output", ["softmax", "sigmoid"])
def test_both_engines_evaluate_alike(output):
    rng = np.random.default_rng(0)
    X, labels = rng.random((70, 10)), rng.integers(0, 4, 70)
    y = np.eye(4, dtype=np.uint8)[labels]

    def build(engine):
        return engine([Dense(12, "tanh"), Dropout(0.3), Dense(4)], output=output,
                      dtype=np.float64).build((10,), np.random.default_rng(1))

    fused, layered = build(DenseStackNetwork), build(Network)
    loss, accuracy = fused.evaluate(X, y)
    assert (loss, accuracy) == pytest.approx(layered.evaluate(X, y), rel=1e-12)
    assert accuracy == np.mean(fused.decision_function(X).argmax(axis=1) == labels)
    assert type(make_network([Dense(3)])) is DenseStackNetwork


def test_early_stopping_uses_the_given_validation_set_instead_of_a_split(digits):
    X, X_val, y, y_val = digits
    est = mlp(early_stopping=True, max_iter=3).fit(X, y, X_val=X_val, y_val=y_val)
    assert est.t_ == 3 * len(y)  # every training row trained: nothing held out
    assert len(est.validation_scores_) == 3


@pytest.mark.parametrize("kwargs,message", [
    ({"X_val": "X"}, "X_val and y_val must be given together"),
    ({"y_val": "y"}, "X_val and y_val must be given together"),
    ({"X_val": "X5", "y_val": "y"}, "5 features"),
    ({"X_val": "X", "y_val": "y_bad"}, "y_val has labels"),
    ({"X_val": "X", "y_val": "y_short"}, "inconsistent numbers of samples"),
])
def test_bad_validation_sets_are_refused(kwargs, message, digits):
    X, X_val, y, y_val = digits
    values = {"X": X_val, "y": y_val, "X5": X_val[:, :5], "y_bad": y_val + 10,
              "y_short": y_val[:-1]}
    est = mlp()
    with pytest.raises(ValueError, match=message):
        est.fit(X, y, **{k: values[v] for k, v in kwargs.items()})
    with pytest.raises(NotFittedError):
        est.predict(X)


# --------------------------------------------------------------- callbacks: protocol, state
def test_hooks_are_called_in_order_with_the_logs(digits):
    X, X_val, y, y_val = digits
    rec = Recorder()
    mlp(max_iter=2, callbacks=[rec]).fit(X, y, X_val=X_val, y_val=y_val)
    keys = ["loss", "lr", "score", "time", "val_loss", "val_score"]
    assert rec.calls == ["begin", ("epoch_begin", 0), ("epoch_end", 0, keys),
                         ("epoch_begin", 1), ("epoch_end", 1, keys), "end"]


def test_partial_fit_is_one_epoch_of_an_open_run(digits):
    X, _, y, _ = digits
    rec, late = Recorder(), Recorder()
    est = mlp(callbacks=[rec])
    est.partial_fit(X, y, classes=np.arange(10))
    est.partial_fit(X, y)
    est.set_params(callbacks=[rec, late]).partial_fit(X, y)  # a callback joining later begins
    keys = ["loss", "lr", "score", "time"]
    assert rec.calls == ["begin"] + [c for e in range(3)
                                     for c in (("epoch_begin", e), ("epoch_end", e, keys))]
    assert late.calls == ["begin", ("epoch_begin", 2), ("epoch_end", 2, keys)]
    est.fit(X, y)  # fit is a run of its own: it begins and ends every callback
    assert rec.calls[0] == "begin" and rec.calls[-1] == "end"
    est.partial_fit(X, y)  # ... and the next partial_fit begins a new run
    assert rec.calls == ["begin", ("epoch_begin", 5), ("epoch_end", 5, keys)]


def test_a_true_from_on_epoch_end_stops_fit(digits):
    X, _, y, _ = digits

    class StopAtTwo(Callback):
        def on_epoch_end(self, estimator, epoch, logs):
            return epoch == 1

    est = mlp(max_iter=50, callbacks=[StopAtTwo()])
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # stopped, so no such warning
        est.fit(X, y)
    assert est.n_iter_ == 2


def test_callbacks_survive_clone_pickle_and_grid_search(digits):
    X, X_val, y, y_val = digits
    stopper = EarlyStopping(patience=2)
    est = mlp(max_iter=30, callbacks=[stopper, LearningRateScheduler("cosine")])
    twin = clone(est)
    assert twin.callbacks[0] is not stopper and repr(twin.callbacks) == repr(est.callbacks)
    assert repr(est.callbacks) == "[EarlyStopping(patience=2), LearningRateScheduler('cosine')]"
    est.fit(X, y, X_val=X_val, y_val=y_val)
    restored = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(restored.predict_proba(X_val), est.predict_proba(X_val))
    assert restored.callbacks[0].best_epoch_ == stopper.best_epoch_
    # each fit starts from the callback's initial state: refitting gives the same run
    first = (stopper.best_epoch_, stopper.stopped_epoch_, est.history_["val_loss"])
    est.fit(X, y, X_val=X_val, y_val=y_val)
    assert (stopper.best_epoch_, stopper.stopped_epoch_, est.history_["val_loss"]) == first
    # a grid search clones the estimator and its callbacks for every fit
    grid = GridSearchCV(mlp(max_iter=30, callbacks=[EarlyStopping("loss", patience=2)]),
                        {"hidden_layer_sizes": [(8,), (16,)]}, cv=2).fit(X, y)
    assert grid.best_estimator_.callbacks[0].best_ is not None
    assert est.callbacks[0] is stopper  # the estimator's own objects were not replaced


def test_bad_callbacks_are_refused_before_training(digits, tmp_path):
    X, _, y, _ = digits
    for callbacks, message in [
            ([EarlyStopping], "pass an instance"), (EarlyStopping(), "a list of callbacks"),
            ([object()], "is not a callback"),
            ([EarlyStopping(monitor="val_loss")], "monitors 'val_loss'.*X_val"),
            ([EarlyStopping(monitor="accuracy")], "monitor"),
            ([EarlyStopping(patience=0)], "patience"),
            ([ModelCheckpoint(tmp_path / "missing" / "m.npz", monitor="loss")],
             "does not exist"),
            ([ModelCheckpoint(tmp_path / "{epch}.npz", monitor="loss")], "epch"),
            ([ModelCheckpoint(tmp_path / "{val_loss}.npz", monitor="loss",
                              save_best_only=False)], "uses 'val_loss'"),
            ([CSVLogger(tmp_path / "log.csv", separator=", ")], "one character"),
            ([LearningRateScheduler("linear")], "schedule must be"),
            ([LearningRateScheduler(lambda epoch, lr: -1.0)], "step size"),
    ]:
        est = mlp(callbacks=callbacks)
        with pytest.raises(ValueError, match=message):
            est.fit(X, y)
        assert not hasattr(est, "n_iter_")
    with pytest.raises(ValueError, match="learning_rate='constant'"):
        mlp(learning_rate="adaptive", callbacks=[LearningRateScheduler("step")]).fit(X, y)


# --------------------------------------------------------------- EarlyStopping
@pytest.mark.parametrize("make", [mlp, cnn])
def test_restore_best_weights_really_restores_the_best_epoch(make, digits, tmp_path):
    X, X_val, y, y_val = digits
    stopper = EarlyStopping(patience=2)
    best = ModelCheckpoint(tmp_path / "best.npz")  # saves at every new best val_loss
    est = make(max_iter=40, learning_rate_init=0.01, callbacks=[best, stopper])
    est.fit(X, y, X_val=X_val, y_val=y_val)
    val_loss = est.history_["val_loss"]
    assert stopper.stopped_epoch_ == est.n_iter_ - 1  # it stopped training, early
    assert est.n_iter_ < 40 and stopper.stopped_epoch_ - stopper.best_epoch_ == 2
    assert stopper.best_epoch_ == best.best_epoch_ == int(np.argmin(val_loss))
    assert stopper.best_ == min(val_loss)
    saved = perceptron.load(best.path_)
    assert saved.n_iter_ == stopper.best_epoch_ + 1
    np.testing.assert_array_equal(est._network.params, saved._network.params)
    assert est.n_iter_ > saved.n_iter_  # the counters still tell every epoch that ran


def test_early_stopping_monitors_scores_and_min_delta(digits):
    X, X_val, y, y_val = digits
    stopper = EarlyStopping("score", patience=1, min_delta=1.0, restore_best_weights=False)
    est = mlp(max_iter=20, callbacks=[stopper]).fit(X, y)
    # no epoch beats the first by a whole 1.0 of accuracy: stop after the second one
    assert est.n_iter_ == 2 and stopper.best_epoch_ == 0
    stopper = EarlyStopping("val_score", patience=3)
    est = mlp(max_iter=60, callbacks=[stopper]).fit(X, y, X_val=X_val, y_val=y_val)
    assert stopper.best_ == max(est.history_["val_score"])
    assert est.score(X_val, y_val) == stopper.best_  # restored


# --------------------------------------------------------------- ModelCheckpoint
def test_checkpoints_load_predict_identically_and_resume_training(digits, tmp_path):
    X, X_val, y, y_val = digits
    checkpoint = ModelCheckpoint(tmp_path / "mlp-{epoch:02d}-{loss:.3f}", monitor="loss",
                                 save_best_only=False)
    rec = Recorder(X_val)
    est = mlp(max_iter=3, dropout=0.2, callbacks=[checkpoint, rec]).fit(X, y)
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == [f"mlp-{e + 1:02d}-{est.history_['loss'][e]:.3f}.npz" for e in range(3)]
    for e, name in enumerate(files):
        loaded = perceptron.load(tmp_path / name)
        assert loaded.n_iter_ == e + 1 and loaded.callbacks is None
        assert loaded.history_ == {k: v[:e + 1] for k, v in est.history_.items()}
        np.testing.assert_array_equal(loaded.predict_proba(X_val), rec.proba[e])
    # the last checkpoint resumes exactly where the estimator goes on
    est.partial_fit(X, y)
    loaded.partial_fit(X, y)
    np.testing.assert_array_equal(loaded._network.params, est._network.params)


def test_checkpoint_save_best_only_writes_only_improvements(digits, tmp_path):
    X, X_val, y, y_val = digits
    checkpoint = ModelCheckpoint(tmp_path / "e{epoch}.npz", monitor="val_score")
    est = mlp(max_iter=15, callbacks=[checkpoint]).fit(X, y, X_val=X_val, y_val=y_val)
    scores = est.history_["val_score"]
    improving = [e + 1 for e in range(len(scores)) if scores[e] > max(scores[:e], default=-1)]
    assert sorted(int(p.stem[1:]) for p in tmp_path.iterdir()) == improving
    assert checkpoint.best_ == max(scores)


# --------------------------------------------------------------- LearningRateScheduler
@pytest.mark.parametrize("schedule,kwargs,expected", [
    ("cosine", {}, [0.01 * (1 + math.cos(math.pi * e / 4)) / 2 for e in range(4)]),
    ("cosine", {"epochs": 2, "min_lr": 0.001}, [0.01, 0.0055, 0.001, 0.001]),
    ("step", {"step_size": 2}, [0.01, 0.01, 0.001, 0.001]),
    ("step", {"step_size": 1, "gamma": 0.5}, [0.01, 0.005, 0.0025, 0.00125]),
    ("exponential", {}, [0.01 * 0.95 ** e for e in range(4)]),
    (lambda epoch, lr: lr * 2 if epoch else 0.003, {}, [0.003, 0.006, 0.012, 0.024]),
])
def test_schedules_give_the_documented_step_sizes(schedule, kwargs, expected, digits):
    X, _, y, _ = digits
    scheduler = LearningRateScheduler(schedule, **kwargs)
    est = mlp(max_iter=4, learning_rate_init=0.01, callbacks=[scheduler]).fit(X, y)
    np.testing.assert_allclose(est.history_["lr"], expected, rtol=1e-12)


def test_the_scheduled_step_size_is_the_one_used(digits):
    X, _, y, _ = digits
    # a step size of 1e-30 after the first epoch: the weights stop moving
    frozen = LearningRateScheduler(lambda epoch, lr: 0.01 if epoch == 0 else 1e-30)
    est = mlp(max_iter=3, learning_rate_init=0.01, callbacks=[frozen]).fit(X, y)
    one = mlp(max_iter=1, learning_rate_init=0.01).fit(X, y)
    np.testing.assert_array_equal(est._network.params, one._network.params)
    # and partial_fit follows the schedule from epoch to epoch
    est = mlp(learning_rate_init=0.01, callbacks=[LearningRateScheduler("exponential")])
    for _ in range(3):
        est.partial_fit(X, y, classes=np.arange(10))
    np.testing.assert_allclose(est.history_["lr"], [0.01, 0.0095, 0.009025])


# --------------------------------------------------------------- CSVLogger
def test_csv_logger_writes_a_row_per_epoch(digits, tmp_path):
    X, X_val, y, y_val = digits
    path = tmp_path / "log.csv"
    est = mlp(max_iter=3, callbacks=[CSVLogger(path)]).fit(X, y, X_val=X_val, y_val=y_val)
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    for key, values in est.history_.items():
        assert [float(r[key]) for r in rows] == values
    # a new fit starts a new log; append=True goes on after the existing rows
    est.fit(X, y)
    assert len(path.read_text().splitlines()) == 4
    est.set_params(callbacks=[CSVLogger(path, separator=";", append=True)]).fit(X, y)
    lines = path.read_text().splitlines()
    assert len(lines) == 7 and lines[4].startswith("1;")


# --------------------------------------------------------------- Ctrl-C
class SignalAt(Callback):
    """Sends the process SIGINT (as Ctrl-C does) at the start of an epoch."""

    def __init__(self, epoch, times=1):
        self.epoch, self.times = epoch, times

    def on_epoch_begin(self, estimator, epoch):
        if epoch == self.epoch:
            for _ in range(self.times):
                signal.raise_signal(signal.SIGINT)


def _interrupt_after_batch(monkeypatch, engine, batch):
    """Ctrl-C arriving while the ``batch``-th training step (from 1) runs in the kernel."""
    calls = []
    original = engine.train_batch

    def train_batch(self, *args, **kwargs):
        result = original(self, *args, **kwargs)
        calls.append(1)
        if len(calls) == batch:
            signal.raise_signal(signal.SIGINT)
        return result

    monkeypatch.setattr(engine, "train_batch", train_batch)


def assert_consistent(est, X, y, n_rows):
    """Counters, histories and optimizer agree with each other; the model is usable.

    ``est`` was fitted once: ``n_iter_`` counts that fit's epochs, the histories
    every epoch.
    """
    epochs = len(est.loss_curve_)
    assert all(len(v) == epochs for v in est.history_.values())
    assert len(est.train_scores_) == epochs == est.n_iter_
    bs = est.batch_size
    full, rest = divmod(est.t_, n_rows)
    assert full == epochs - (rest > 0)
    assert n_steps(est) == full * -(-n_rows // bs) + -(-rest // bs)
    est.predict(X)
    est.set_params(callbacks=None).partial_fit(X, y)
    assert all(len(v) == epochs + 1 for v in est.history_.values()) and est.n_iter_ == 1


@pytest.mark.parametrize("make,engine", [(mlp, DenseStackNetwork), (cnn, Network)])
def test_ctrl_c_stops_fit_at_the_end_of_the_batch(make, engine, digits, monkeypatch,
                                                  tmp_path):
    X, X_val, y, y_val = digits
    est = make(max_iter=10, batch_size=100)  # 6 batches per epoch
    _interrupt_after_batch(monkeypatch, engine, batch=3 * 6 + 2)
    with pytest.warns(UserWarning, match="during epoch 4, after batch 2 of 6"):
        est.fit(X, y, X_val=X_val, y_val=y_val)
    monkeypatch.undo()
    assert est.n_iter_ == 4 and est.t_ == 3 * 600 + 200 and n_steps(est) == 20
    # the cut-short epoch is recorded over its batches, validation figures included
    assert est.history_["val_score"][-1] == est.score(X_val, y_val)
    assert_consistent(est, X, y, len(y))
    est.save(tmp_path / "m.npz")
    assert perceptron.load(tmp_path / "m.npz").n_iter_ == est.n_iter_


def test_ctrl_c_between_epochs_and_from_a_callback(digits):
    X, _, y, _ = digits
    est = mlp(max_iter=10, callbacks=[SignalAt(3)])
    with pytest.warns(UserWarning, match="after epoch 3:"):
        est.fit(X, y)
    assert est.n_iter_ == 3
    assert_consistent(est, X, y, len(y))

    class Raise(Callback):
        def on_epoch_end(self, estimator, epoch, logs):
            if epoch == 1:
                raise KeyboardInterrupt

    rec = Recorder()
    est = mlp(max_iter=10, callbacks=[Raise(), rec])
    with pytest.warns(UserWarning, match="after epoch 2:"):
        est.fit(X, y)
    assert est.n_iter_ == 2 and rec.calls[-1] == "end"  # the run still ends
    assert_consistent(est, X, y, len(y))


def test_ctrl_c_from_a_timer(digits):
    X, _, y, _ = digits
    X, y = X[:64], y[:64]

    class StartTimer(Callback):
        """Ctrl-C 0.1 s into training, from another thread, wherever the loop then is."""

        def on_train_begin(self, estimator):
            self.timer = threading.Timer(0.1, _thread.interrupt_main)
            self.timer.start()

    # a fit that only the interrupt ends
    timer = StartTimer()
    est = PerceptronClassifier(max_iter=10**6, n_iter_no_change=10**6, batch_size=16,
                               random_state=0, callbacks=[timer])
    try:
        with pytest.warns(UserWarning, match="fit interrupted"):
            est.fit(X, y)
    finally:
        timer.timer.join()
    assert est.n_iter_ >= 1
    assert_consistent(est, X, y, len(y))


def test_a_second_ctrl_c_aborts_and_undoes_the_call(digits):
    X, _, y, _ = digits
    est = mlp(max_iter=10, callbacks=[SignalAt(2, times=2)])
    with pytest.raises(KeyboardInterrupt):
        est.fit(X, y)
    assert not hasattr(est, "n_iter_")
    est = mlp(max_iter=2).fit(X, y)
    before = pickle.dumps(est)
    est.set_params(warm_start=True, callbacks=[SignalAt(3, times=2)])
    with pytest.raises(KeyboardInterrupt):
        est.fit(X, y)
    est.set_params(warm_start=False, callbacks=None)
    assert pickle.dumps(est) == before
    # an interrupt before the first batch trained: nothing to keep, the call is undone
    est = mlp(max_iter=10, callbacks=[SignalAt(0)])
    with pytest.raises(KeyboardInterrupt, match="as it was before"):
        est.fit(X, y)
    assert not hasattr(est, "n_iter_")


def test_ctrl_c_in_partial_fit_undoes_the_call_and_propagates(digits, monkeypatch):
    X, _, y, _ = digits
    est = mlp(batch_size=100).partial_fit(X, y, classes=np.arange(10))
    before = pickle.dumps(est)
    _interrupt_after_batch(monkeypatch, DenseStackNetwork, batch=3)
    with pytest.raises(KeyboardInterrupt, match="partial_fit interrupted"):
        est.partial_fit(X, y)
    monkeypatch.undo()
    assert pickle.dumps(est) == before


def test_the_sigint_handler_is_put_back(digits):
    X, _, y, _ = digits
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    mlp(max_iter=1).fit(X, y)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


# --------------------------------------------------------------- all or nothing (#18.3)
def _poisoned(X, row):
    X = X.copy()
    X[row] = 3e38
    return X


@pytest.mark.parametrize("make", [mlp, cnn,
                                  lambda **p: PerceptronClassifier(random_state=0, **p)])
def test_a_diverging_partial_fit_leaves_the_model_as_it_was(make, digits):
    X, X_val, y, y_val = digits
    bad = _poisoned(X, row=len(y) - 1)  # the last batch diverges, after others were applied
    a = make(batch_size=100, shuffle=True).partial_fit(X, y, classes=np.arange(10))
    b = clone(a).partial_fit(X, y, classes=np.arange(10))
    before = pickle.dumps(a)
    with pytest.raises(ValueError, match="training diverged"):
        a.partial_fit(bad, y)
    assert pickle.dumps(a) == before
    # the random streams were put back too: training goes on as if the call never happened
    a.partial_fit(X, y)
    b.partial_fit(X, y)
    np.testing.assert_array_equal(a._network.params, b._network.params)
    assert a.history_["loss"] == b.history_["loss"] and a.t_ == b.t_


def test_a_failing_fit_leaves_the_fitted_model_as_it_was(digits):
    X, X_val, y, y_val = digits
    est = mlp(max_iter=2).fit(X, y)
    before = pickle.dumps(est)
    with pytest.raises(ValueError, match="training diverged"):
        est.fit(_poisoned(X, 500), y)
    with pytest.raises(ValueError, match="training diverged"):
        est.set_params(warm_start=True).fit(_poisoned(X, 500), y)
    with pytest.raises(ValueError, match="at least 2"):  # after n_features_in_ was reset
        est.set_params(warm_start=False).fit(X[:, :10], np.zeros(len(y)))

    class Broken(Callback):
        def on_epoch_end(self, estimator, epoch, logs):
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        est.set_params(callbacks=[Broken()]).fit(X, y)
    est.set_params(callbacks=None)
    assert pickle.dumps(est) == before
    # a fresh estimator whose first fit fails stays unfitted
    fresh = mlp()
    with pytest.raises(ValueError, match="training diverged"):
        fresh.fit(_poisoned(X, 500), y)
    with pytest.raises(NotFittedError):
        fresh.predict(X)


# --------------------------------------------------------------- saved with the model
def test_history_is_saved_and_older_files_still_load(digits, tmp_path):
    import json
    import zipfile

    X, X_val, y, y_val = digits
    est = mlp(max_iter=2).fit(X, y)
    est.set_params(warm_start=True).fit(X, y, X_val=X_val, y_val=y_val)  # with NaN entries
    loaded = perceptron.load(est.save(tmp_path / "m.npz"))
    np.testing.assert_array_equal(np.array(list(loaded.history_.values())),
                                  np.array(list(est.history_.values())))
    assert list(loaded.history_) == list(est.history_)
    # a file written before history_ existed: rebuilt from the curves it kept
    with np.load(tmp_path / "m.npz") as data:
        arrays = {k: data[k] for k in data.files}
    meta = json.loads(arrays["__meta__"].tobytes())
    del meta["attributes"]["history_"]
    arrays["__meta__"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    np.savez(tmp_path / "old.npz", **arrays)
    old = perceptron.load(tmp_path / "old.npz")
    assert old.history_["loss"] == est.loss_curve_
    assert old.history_["val_score"] == est.validation_scores_
    assert np.isnan(old.history_["lr"]).all()
    # a history_ that does not match the curves is refused
    meta["attributes"]["history_"] = {"loss": [1.0]}
    arrays["__meta__"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ValueError, match="history_"):
        perceptron.load(tmp_path / "bad.npz")
    assert zipfile.is_zipfile(tmp_path / "bad.npz")


# --------------------------------------------------------------- pictures and command line
def test_learning_curves_draw_validation_loss_and_a_single_epoch(digits):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from perceptron.plotting import plot_learning_curves

    X, X_val, y, y_val = digits
    est = mlp(max_iter=3).fit(X, y, X_val=X_val, y_val=y_val)
    loss_ax, acc_ax = plot_learning_curves(est).axes
    assert [line.get_label() for line in loss_ax.lines] == ["training", "validation"]
    np.testing.assert_allclose(loss_ax.lines[1].get_ydata(), est.history_["val_loss"])
    np.testing.assert_allclose(acc_ax.lines[1].get_ydata(), est.history_["val_score"])
    one = mlp(max_iter=1).fit(X, y)
    (line,) = plot_learning_curves(one).axes[0].lines
    assert line.get_marker() == "o" and len(line.get_ydata()) == 1  # a visible point
    plt.close("all")


def test_cli_training_control_flags(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["train", "-v", "--model", "mlp", "--epochs", "12",
                 "--validation-fraction", "0.2", "--early-stopping", "--patience", "2",
                 "--lr-schedule", "cosine", "--checkpoint", str(tmp_path / "best.npz"), "--out", str(out)])
    assert code == 0
    captured = capsys.readouterr()
    # validation figures after each epoch, with -v, on stderr (stdout: the results)
    assert "validation loss = " in captured.err
    import json

    metrics = json.loads((out / "metrics.json").read_text())
    history = metrics["history"]
    assert len(history["val_loss"]) == metrics["epochs"] <= 12
    np.testing.assert_allclose(history["lr"], [1e-3 * (1 + math.cos(math.pi * e / 12)) / 2
                                               for e in range(metrics["epochs"])])
    assert metrics["n_train"] == 1437 - 288  # 0.2 held out, rounded up
    best = perceptron.load(tmp_path / "best.npz")
    assert best.n_iter_ == int(np.argmin(history["val_loss"])) + 1
    for argv, message in [(["--validation-fraction", "1.5"], "--validation-fraction"),
                          (["--early-stopping", "--patience", "0"], "--patience"),
                          (["--checkpoint", str(tmp_path / "no" / "m.npz")], "does not exist")]:
        assert main(["--quiet", "train", "--epochs", "2", "--out", str(out)] + argv) == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1
