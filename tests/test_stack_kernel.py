"""The whole-step kernel of dense stacks (``_kernels/_stack.pyx``).

Each test runs the same network twice from the same seed: once on the fused
engine (``DenseStackNetwork.train_batch``: one kernel call per step) and once
on the reference, layer by layer (``Network.train_step`` on the gathered
batch, then the optimizer's own kernel), and compares. The number of threads sharing a
step, and of parts it is cut into, are forced, so that 2 and 3 threads are checked
whatever the size. With sample weights, both engines are given the same weights (some
of them 0). Then: the same bits on any number of threads.
"""

import os

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from perceptron import _dense_stack
from perceptron._dense_stack import DenseStackNetwork
from perceptron._engine import make_network
from perceptron._kernels import _optim, _stack
from perceptron._network import Network
from perceptron._optimizers import SGD, Adam, RMSprop
from perceptron.layers import Conv2D, Dense, Dropout, Flatten


def make_net(widths, activation="relu", output="softmax", dropout=0.0,
             dtype=np.float64, seed=0, engine=DenseStackNetwork):
    layers = []
    for units in widths[1:-1]:
        layers.append(Dense(units, activation))
        if dropout:
            layers.append(Dropout(dropout))
    layers.append(Dense(widths[-1]))
    net = engine(layers, output=output, dtype=dtype)
    return net.build((widths[0],), np.random.default_rng(seed))


def onehot(y, d):
    """Class indices as the 0/1 target matrix the losses take."""
    return np.eye(d, dtype=np.uint8)[y]


def make_data(widths, n=90, dtype=np.float64, seed=1, multilabel=False):
    """``X``, the targets (one-hot rows, or any 0/1 pattern) and a batch of rows."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, widths[0])).astype(dtype)
    if multilabel:
        T = (rng.random((n, widths[-1])) < 0.4).astype(np.uint8)
    else:
        T = onehot(rng.integers(0, widths[-1], n), widths[-1])
    rows = rng.permutation(n)[:37].astype(np.intp)  # 37: no number of parts divides it
    return X, T, rows


def make_weights(n, seed=2):
    """Weights in [0, 3), every seventh 0: some rows count for nothing."""
    w = np.random.default_rng(seed).random(n) * 3
    w[::7] = 0
    return w


#: the parts a step is cut into when ``team`` threads share it in the tests
#: below: one for one thread, else more parts than threads, shared unevenly
PARTS = {1: 1, 2: 3, 3: 4}


def force_split(monkeypatch, parts, team):
    """Make every step cut into ``parts`` parts, shared by ``team`` threads."""
    monkeypatch.setattr(_stack, "stack_parts", lambda m, widths, most: parts)
    monkeypatch.setattr(_stack, "stack_team", lambda m, widths, n_threads, most: team)


@pytest.fixture
def team(request, monkeypatch):
    """Force the number of threads sharing a step (and its parts, ``PARTS``)."""
    force_split(monkeypatch, PARTS[request.param], request.param)
    return request.param


def layered_step(net, X, y, rows, alpha, sample_weight=None):
    return net.train_step(np.ascontiguousarray(X[rows]), y[rows], alpha,
                          None if sample_weight is None else sample_weight[rows])


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("team", [1, 2, 3], indirect=True)
@pytest.mark.parametrize("widths", [(40, 24, 16, 5), (40, 5), (10, 7, 3)],
                         ids=["three-layers", "one-layer", "few-inputs"])
@pytest.mark.parametrize("activation, output", [
    ("relu", "softmax"), ("tanh", "sigmoid"), ("logistic", "softmax"),
    ("identity", "softmax"), ("relu", "independent")])
@pytest.mark.parametrize("dropout", [0.0, 0.3])
def test_step_matches_layer_by_layer(team, widths, activation, output, dropout, weighted):
    X, y, rows = make_data(widths, multilabel=output == "independent")
    sw = make_weights(X.shape[0]) if weighted else None
    fused = make_net(widths, activation, output, dropout)
    fused.set_n_threads(team)
    layered = make_net(widths, activation, output, dropout, engine=Network)
    alpha = 0.01
    for _ in range(2):  # a second step: fresh dropout masks, reused buffers
        loss, correct = fused.train_batch(X, y, rows, alpha, sample_weight=sw)
        ref_loss, ref_correct = layered_step(layered, X, y, rows, alpha, sw)
        assert loss == pytest.approx(ref_loss, rel=1e-12)
        assert correct == ref_correct
        np.testing.assert_allclose(fused.grads, layered.grads, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("team", [1, 2], indirect=True)
def test_float32_step_matches_layer_by_layer(team, weighted):
    widths = (50, 20, 4)
    X, y, rows = make_data(widths, dtype=np.float32)
    sw = make_weights(X.shape[0]) if weighted else None
    fused = make_net(widths, dtype=np.float32, dropout=0.2)
    layered = make_net(widths, dtype=np.float32, dropout=0.2, engine=Network)
    loss, _ = fused.train_batch(X, y, rows, 0.001, sample_weight=sw)
    ref_loss, _ = layered_step(layered, X, y, rows, 0.001, sw)
    assert loss == pytest.approx(ref_loss, rel=1e-5)
    np.testing.assert_allclose(fused.grads, layered.grads, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("team", [1, 2, 3], indirect=True)
@pytest.mark.parametrize("make_optimizer", [
    lambda p: SGD(p, momentum=0.9, nesterov=True), lambda p: SGD(p, momentum=0.5, nesterov=False),
    lambda p: SGD(p, momentum=0.0), lambda p: Adam(p), lambda p: RMSprop(p)],
    ids=["nesterov", "momentum", "plain-sgd", "adam", "rmsprop"])
def test_fused_update_matches_the_optimizer(team, make_optimizer, weighted):
    widths = (30, 12, 12, 4)
    X, y, rows = make_data(widths)
    sw = make_weights(X.shape[0]) if weighted else None
    fused = make_net(widths, dropout=0.1)
    layered = make_net(widths, dropout=0.1, engine=Network)
    opt_fused, opt_layered = make_optimizer(fused.params), make_optimizer(layered.params)
    for _ in range(4):
        fused.train_batch(X, y, rows, 1e-3, opt_fused, 0.01, sample_weight=sw)
        loss, _ = layered_step(layered, X, y, rows, 1e-3, sw)
        opt_layered.step(layered.params, layered.grads, 0.01)
    np.testing.assert_allclose(fused.params, layered.params, rtol=1e-9, atol=1e-12)
    assert opt_fused.n_steps == opt_layered.n_steps == 4


@pytest.mark.parametrize("team", [1, 2], indirect=True)
def test_no_update_when_the_loss_is_not_finite(team):
    widths = (20, 8, 3)
    X, y, rows = make_data(widths)
    X[rows[-1], 0] = np.inf
    net = make_net(widths)
    opt = Adam(net.params)
    before = net.params.copy()
    loss, _ = net.train_batch(X, y, rows, 0.0, opt, 0.1)
    assert not np.isfinite(loss)
    np.testing.assert_array_equal(net.params, before)
    assert opt.n_steps == 0 and not opt.m.any()


def _net_with_an_infinite_weight(engine):
    """A net whose first weight row is +inf, for an input column of zeros:
    ``0 * inf`` is NaN, which ReLU maps to 0, so the loss stays finite."""
    widths = (20, 8, 3)
    X, y, rows = make_data(widths)
    X[:, 0] = 0
    net = make_net(widths, engine=engine)
    net.layers[0].params["W"][0] = np.inf
    return net, X, y, rows


@pytest.mark.parametrize("team", [1, 2], indirect=True)
@pytest.mark.parametrize("engine", [DenseStackNetwork, Network])
def test_no_update_when_the_gradient_is_not_finite(team, engine):
    """The L2 term of an infinite weight is infinite: the step is not applied
    and the step reports NaN, on both engines."""
    net, X, y, rows = _net_with_an_infinite_weight(engine)
    opt = Adam(net.params)
    before = net.params.copy()
    loss, _ = net.train_batch(X, y, rows, 1e-3, opt, 0.1)
    assert np.isnan(loss)
    np.testing.assert_array_equal(net.params, before)
    assert opt.n_steps == 0 and not opt.m.any()


@pytest.mark.parametrize("team", [1, 2], indirect=True)
def test_the_fused_step_checks_gradient_and_parameters(team):
    """The kernel itself: a finite loss with a non-finite gradient is not
    applied; an applied step that leaves a parameter infinite says so."""
    net, X, y, rows = _net_with_an_infinite_weight(DenseStackNetwork)
    plan = net._plan(rows.shape[0])
    opt = SGD(net.params)

    def step(alpha):
        return _stack.dense_stack_step(
            X.reshape(X.shape[0], -1), rows, y, net.params, net.grads, plan.private,
            plan.work, plan.shared, plan.widths, plan.activations, plan.drop, plan.seeds,
            True, alpha, plan.row_loss, plan.hit, plan.parts, plan.team,
            **opt.fused_step(0.1)._asdict())

    loss, _, _, updated, _, finite = step(1e-3)
    assert np.isfinite(loss) and not updated and not finite
    loss, _, _, updated, _, finite = step(0.0)  # gradient finite, W stays inf
    assert np.isfinite(loss) and np.isfinite(net.grads).all() and updated and not finite


@pytest.mark.parametrize("solver", [SGD, Adam, RMSprop])
def test_optimizers_report_non_finite_results(solver):
    """An overflowed step, or a NaN gradient, is reported by the update kernel."""
    w = np.ones(100_000, dtype=np.float32)
    opt = solver(w)
    assert opt.step(w, np.full_like(w, 1e-3), 0.01, 2)
    g = np.full_like(w, 1e-3)
    g[70_000] = np.nan
    assert not opt.step(w, g, 0.01, 2)
    # a gradient whose square overflows float32: Adam's and RMSprop's mean
    # square becomes inf (and would freeze the weight: m / sqrt(inf) = 0)
    w2 = np.ones(10, dtype=np.float32)
    opt = solver(w2)
    assert not opt.step(w2, np.full_like(w2, 1e30), 1e10, 1)


@pytest.mark.parametrize("engine", [DenseStackNetwork, Network])
def test_a_batch_of_weight_zero_changes_nothing(engine):
    """No gradient (the L2 term included), no optimizer step, a loss of 0."""
    widths = (20, 8, 3)
    X, y, rows = make_data(widths)
    sw = np.ones(X.shape[0])
    sw[rows] = 0
    net = make_net(widths, engine=engine)
    opt = Adam(net.params)
    before = net.params.copy()
    loss, _ = net.train_batch(X, y, rows, 0.1, opt, 0.1, sample_weight=sw)
    assert loss == 0.0 and not net.grads.any()
    np.testing.assert_array_equal(net.params, before)
    assert opt.n_steps == 0 and not opt.m.any()
    with pytest.raises(ValueError, match="sample_weight"):
        net.train_batch(X, y, rows, sample_weight=sw[:-1])


def test_repeated_steps_are_identical_on_two_threads():
    """Large enough that the real team is 2: no race between the phases."""
    widths = (784, 100, 100, 10)
    rng = np.random.default_rng(0)
    X = rng.random((512, 784), dtype=np.float32)
    y = onehot(rng.integers(0, 10, 512), 10)
    rows = rng.permutation(512)[:128].astype(np.intp)
    assert _stack.stack_team(128, np.array(widths, dtype=np.intp), 2) == 2
    grads = []
    with threadpool_limits(1, "blas"):  # as the estimators run (see _gemm.pxd)
        for _ in range(5):
            net = make_net(widths, dtype=np.float32)
            net.set_n_threads(2)
            opt = Adam(net.params)
            for _ in range(3):
                net.train_batch(X, y, rows, 1e-4, opt, 1e-3)
            grads.append((net.grads.copy(), net.params.copy()))
    for g, p in grads[1:]:
        np.testing.assert_array_equal(g, grads[0][0])
        np.testing.assert_array_equal(p, grads[0][1])


def test_team_size():
    widths = np.array([784, 100, 100, 10], dtype=np.intp)
    assert _stack.stack_team(128, widths, 2) == 2
    assert _stack.stack_team(128, widths, 1) == 1
    assert _stack.stack_team(4096, widths, 4) == 2  # one thread per part
    assert _stack.stack_team(12, widths, 4) == 1  # at least 8 rows per thread
    assert _stack.stack_team(128, np.array([8, 4, 2], dtype=np.intp), 4) == 1  # too small


def test_parts_depend_on_the_shapes_alone():
    """Two parts for a step worth sharing (on two threads), else one."""
    mlp = np.array([784, 100, 100, 10], dtype=np.intp)
    assert [_stack.stack_parts(m, mlp) for m in (2, 15, 16, 128, 16384)] == [1, 1, 2, 2, 2]
    assert _stack.stack_parts(128, np.array([8, 4, 2], dtype=np.intp)) == 1
    assert _stack.stack_parts(40, np.array([784, 10], dtype=np.intp)) == 2


def test_parts_follow_the_machine_not_the_team():
    """Up to one part per CPU of the machine (at most the kernel's limit),
    never fewer than 8 rows a part; the team is at most one thread a part."""
    mlp = np.array([784, 100, 100, 10], dtype=np.intp)
    assert [_stack.stack_parts(128, mlp, most) for most in (1, 2, 4, 8, 64)] == [1, 2, 4, 8, 8]
    assert _stack.stack_parts(24, mlp, 8) == 3
    assert _stack.stack_team(128, mlp, 2, 8) == 2
    assert _stack.stack_team(128, mlp, 16, 8) == 8
    assert _dense_stack.MOST_PARTS == min(os.cpu_count() or 1, _stack.MAX_STEP_PARTS)


def test_other_networks_train_layer_by_layer():
    conv = make_network([Conv2D(2, 3, activation="relu"), Flatten(), Dense(3)])
    conv.build((6, 6, 1), np.random.default_rng(0))
    assert type(conv) is Network
    trailing_dropout = make_network([Dense(4, "relu"), Dense(3), Dropout(0.5)])
    assert type(trailing_dropout) is Network
    assert type(make_network([Dense(4, "relu"), Dropout(0.5), Dense(3)])) is DenseStackNetwork
    assert type(make_network([Dense(4, "relu"), Dense(3, "relu")])) is Network
    # and they still train: the batch is gathered and the optimizer stepped
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 6, 6, 1)).astype(np.float32)
    y = onehot(rng.integers(0, 3, 20), 3)
    opt = SGD(conv.params)
    before = conv.params.copy()
    loss, _ = conv.train_batch(X, y, np.arange(0, 20, 2, dtype=np.intp), 0.0, opt, 0.1)
    assert np.isfinite(loss) and not np.array_equal(conv.params, before)


def test_bad_arguments_raise():
    widths = (10, 6, 3)
    X, y, rows = make_data(widths)
    net = make_net(widths)
    with pytest.raises(IndexError, match="out of range"):
        net.train_batch(X, y, np.array([0, 90], dtype=np.intp))
    with pytest.raises(ValueError, match="do not agree"):  # targets of another width
        net.train_batch(X, onehot(np.zeros(90, dtype=np.intp), 4), rows)
    w = np.array(widths, dtype=np.intp)
    drop = np.zeros(2)
    args = dict(private=np.zeros((1, _stack.chunk_grad_size(w))), work=np.zeros((2, 4096)),
                shared=np.zeros(4096),
                widths=w, activations=np.array([1, 0], dtype=np.int32), drop=drop,
                seeds=np.zeros(2, dtype=np.uint64), output=1, alpha=0.0,
                row_loss=np.zeros(37), hit=np.zeros(37, dtype=np.uint8), parts=2)
    with pytest.raises(ValueError, match="team"):
        _stack.dense_stack_step(X, rows, y, net.params, net.grads, team=40, **args)
    with pytest.raises(ValueError, match="team"):  # more threads than parts
        _stack.dense_stack_step(X, rows, y, net.params, net.grads, team=3, **args)
    with pytest.raises(ValueError, match="parts"):
        _stack.dense_stack_step(X, rows, y, net.params, net.grads, team=1,
                                **{**args, "parts": 9})
    with pytest.raises(ValueError, match="do not agree"):  # no gradient vector for chunk 1
        _stack.dense_stack_step(X, rows, y, net.params, net.grads, team=1,
                                **{**args, "private": np.zeros((0, 64))})
    with pytest.raises(ValueError, match="do not agree"):
        _stack.dense_stack_step(X, rows, y, net.params[:-1], net.grads, team=1, **args)
    with pytest.raises(ValueError, match="do not agree"):  # the last layer must be identity
        _stack.dense_stack_step(X, rows, y, net.params, net.grads, team=1,
                                **{**args, "activations": np.array([1, 1], dtype=np.int32)})
    with pytest.raises(ValueError, match="solver state"):
        _stack.dense_stack_step(X, rows, y, net.params, net.grads, team=1, solver=_optim.ADAM,
                                state1=np.zeros_like(net.params), **args)
    with pytest.raises(ValueError, match="do not agree"):  # output codes are 1, 2 and 3
        _stack.dense_stack_step(X, rows, y, net.params, net.grads, team=1,
                                **{**args, "output": 0})
    with pytest.raises(TypeError):  # the optimizer's arguments are keyword-only
        _stack.dense_stack_step(X, rows, y, net.params, net.grads, *args.values(), 1,
                                _optim.SGD)


def test_chunk_gradients_fill_whole_cache_lines():
    """A chunk's gradient of layers 2.. (none for one layer), padded to 16 values."""
    sizes = [_stack.chunk_grad_size(np.array(w, dtype=np.intp))
             for w in ((10, 6, 3), (784, 100, 100, 10), (784, 10))]
    assert sizes == [32, 11120, 0]


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_mnist_sized_steps_match_layer_by_layer_on_two_threads(weighted):
    """Each phase reads what the other thread wrote in the one before."""
    widths = (784, 100, 100, 10)
    rng = np.random.default_rng(0)
    X = rng.random((2048, 784))
    y = onehot(rng.integers(0, 10, 2048), 10)
    sw = make_weights(2048) if weighted else None
    fused = make_net(widths, dropout=0.2)
    layered = make_net(widths, dropout=0.2, engine=Network)
    fused.set_n_threads(2)
    assert _stack.stack_team(128, np.array(widths, dtype=np.intp), 2) == 2
    with threadpool_limits(1, "blas"):
        for start in range(0, 2048, 128):
            rows = np.arange(start, start + 128, dtype=np.intp)
            fused.train_batch(X, y, rows, 1e-4, sample_weight=sw)
            layered_step(layered, X, y, rows, 1e-4, sw)
            np.testing.assert_allclose(fused.grads, layered.grads, rtol=1e-9, atol=1e-13)


def numpy_outputs(net, X, output):
    """The network's outputs, written out in NumPy."""
    h = X
    for layer in net.layers:
        if isinstance(layer, Dense):
            z = h @ layer.params["W"] + layer.params["b"]
            h = {"relu": lambda v: np.maximum(v, 0), "tanh": np.tanh,
                 "logistic": lambda v: 1 / (1 + np.exp(-v)),
                 "identity": lambda v: v}[layer.activation](z)
    if output == "softmax":
        e = np.exp(h - h.max(axis=1, keepdims=True))
        return h, e / e.sum(axis=1, keepdims=True)
    s = 1 / (1 + np.exp(-h))
    if output == "independent":  # one probability per unit; one unit: its two classes
        return h, np.hstack([1 - s, s]) if s.shape[1] == 1 else s
    return h, s / s.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("widths", [(40, 24, 16, 5), (40, 5), (300, 64, 10), (40, 8, 1)])
@pytest.mark.parametrize("activation, output", [
    ("relu", "softmax"), ("tanh", "sigmoid"), ("logistic", "softmax"),
    ("relu", "independent")])
@pytest.mark.parametrize("n", [0, 1, 1300])  # 1300: two whole blocks of 512 and a part
def test_predict_matches_numpy(n_threads, widths, activation, output, n):
    net = make_net(widths, activation, output, dropout=0.5)  # no dropout at predict time
    net.set_n_threads(n_threads)
    X = np.random.default_rng(2).normal(size=(n, widths[0]))
    logits, proba = numpy_outputs(net, X, output)
    with threadpool_limits(1, "blas"):
        np.testing.assert_allclose(net.decision_function(X), logits, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(net.predict_proba(X, check_finite=True), proba,
                                   rtol=1e-10, atol=1e-14)


def test_float32_predict_matches_numpy():
    net = make_net((50, 30, 4), dtype=np.float32)
    net.set_n_threads(2)
    X = np.random.default_rng(3).normal(size=(2000, 50)).astype(np.float32)
    _, proba = numpy_outputs(net, X.astype(np.float64), "softmax")
    got = net.predict_proba(X)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, proba, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_predict_checks_every_block(bad):
    net = make_net((20, 8, 3))
    net.set_n_threads(2)
    X = np.random.default_rng(4).normal(size=(1500, 20))
    X[1499, 19] = bad  # the last value of the last block
    with pytest.raises(ValueError, match="NaN" if np.isnan(bad) else "infinity"):
        net.predict_proba(X, check_finite=True)
    net.predict_proba(X)  # unchecked: no error, garbage in the last row only


def test_predict_bad_arguments_raise():
    net = make_net((10, 6, 3))
    w, acts = np.array([10, 6, 3], dtype=np.intp), np.array([1, 0], dtype=np.int32)
    X, out = np.zeros((5, 10)), np.zeros((5, 3))
    work = np.zeros((1, _stack.predict_work_size(w)))
    with pytest.raises(ValueError, match="do not agree"):
        _stack.dense_stack_predict(X, net.params, np.zeros((5, 4)), work, w, acts, 1, False, 1)
    with pytest.raises(ValueError, match="do not agree"):
        _stack.dense_stack_predict(X, net.params, out, work, w, acts, 4, False, 1)
    with pytest.raises(ValueError, match="work is too small"):
        _stack.dense_stack_predict(X, net.params, out, work[:, :10], w, acts, 1, False, 1)


@pytest.mark.parametrize("engine", [DenseStackNetwork, Network])
def test_sparse_input_trains_and_predicts_as_dense(engine, monkeypatch):
    """A CSR ``X``: each batch densified as it is gathered, prediction block by
    block (three blocks here), the same numbers as the dense ``X``."""
    import scipy.sparse as sp

    widths = (40, 16, 5)
    X, y, rows = make_data(widths, n=2500)
    X[np.abs(X) < 1] = 0
    X_csr = sp.csr_matrix(X)
    dense, sparse = make_net(widths, engine=engine), make_net(widths, engine=engine)
    for _ in range(2):
        loss, correct = dense.train_batch(X, y, rows, 0.01)
        assert sparse.train_batch(X_csr, y, rows, 0.01) == (pytest.approx(loss, rel=1e-12),
                                                             correct)
        np.testing.assert_allclose(sparse.grads, dense.grads, rtol=1e-12, atol=1e-15)
    monkeypatch.setattr(engine, "predict_batch_size", lambda self, densify=False: 1000)
    np.testing.assert_allclose(sparse.predict_proba(X_csr), dense.predict_proba(X),
                               rtol=1e-12)
    with pytest.raises(ValueError, match="NaN"):
        X_csr.data[-1] = np.nan
        sparse.decision_function(X_csr, check_finite=True)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("widths", [(784, 100, 100, 10), (784, 10)], ids=["mlp", "one-layer"])
@pytest.mark.parametrize("make_optimizer", [
    lambda p: SGD(p, momentum=0.9, nesterov=True), lambda p: Adam(p), lambda p: RMSprop(p)],
    ids=["sgd", "adam", "rmsprop"])
def test_any_team_gives_the_same_bits(dtype, widths, make_optimizer, monkeypatch):
    """The step's result depends on its parts, never on the threads sharing
    them: 1, 2, 3 (an uneven share) and 8 threads (more than the CPUs, one
    part each) give the same losses, penalties, gradients and parameters,
    bit for bit -- dropout, sample weights and the L2 term included, and a
    last batch of another size."""
    rng = np.random.default_rng(0)
    X = rng.random((600, widths[0])).astype(dtype)
    y = onehot(rng.integers(0, 10, 600), widths[-1])
    sw = make_weights(600)
    batches = [np.arange(start, min(start + 128, 600), dtype=np.intp)
               for start in range(0, 600, 128)]  # the last one: 88 rows
    results = []
    with threadpool_limits(1, "blas"):
        for team in (1, 2, 3, 8):
            force_split(monkeypatch, 8, team)
            net = make_net(widths, dtype=dtype, dropout=0.2 if len(widths) > 2 else 0.0)
            opt = make_optimizer(net.params)
            steps = [net.train_batch(X, y, rows, 1e-3, opt, 1e-3, sample_weight=sw)
                     for rows in batches]
            assert net._plan(128).team == team
            results.append((steps, net.grads.copy(), net.params.copy()))
    for steps, grads, params in results[1:]:
        assert steps == results[0][0]
        np.testing.assert_array_equal(grads, results[0][1])
        np.testing.assert_array_equal(params, results[0][2])
