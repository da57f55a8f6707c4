"""Optimizers: state vectors the size of the model, updated by one kernel call.

Each optimizer owns its state (plain attributes, saved and restored with
:meth:`state` / :meth:`load_state`) and applies a step in one of two ways:

- :meth:`step` calls its own kernel (``_kernels/_optim.pyx``) on the flat
  parameter and gradient vectors: the layer-by-layer engine does this;
- :meth:`fused_step` hands the same update to a kernel that applies it
  itself, inside its own loop (the dense-stack engine's step kernel), which
  then reports the step with :meth:`count_step`.
"""

import math
from typing import NamedTuple

import numpy as np

from ._kernels import _optim


class FusedStep(NamedTuple):
    """One optimizer step, as a kernel that applies it itself takes it."""

    #: which update (``_optim.SGD``, ``_optim.ADAM`` or ``_optim.RMSPROP``)
    solver: int
    #: the state vectors the update reads and writes (``state2`` may be None)
    state1: np.ndarray
    state2: np.ndarray
    #: step size (Adam: with both bias corrections of this step folded in)
    lr: float
    #: decay rate of ``state1`` (SGD momentum, Adam beta_1, RMSprop rho) and
    #: of ``state2`` (Adam beta_2)
    decay1: float
    decay2: float
    eps: float
    nesterov: bool


class Optimizer:
    """Common part: a step counter and the state protocol.

    Subclasses list their state vectors in ``_vectors`` and their
    hyper-parameters in ``__init__``.
    """

    #: names of the state vectors (each the size of the parameter vector)
    _vectors = ()

    def __init__(self, params):
        for name in self._vectors:
            setattr(self, name, np.zeros_like(params))
        self.n_steps = 0

    def count_step(self):
        """Count a step applied, by :meth:`step` or by a fused kernel."""
        self.n_steps += 1

    def state(self):
        """The state vectors and the step count (the arrays themselves, not copies)."""
        state = {name: getattr(self, name) for name in self._vectors}
        state["n_steps"] = self.n_steps
        return state

    def load_state(self, state):
        """Set what :meth:`state` returned; a ValueError when it does not fit.

        Every entry must be present, with the shape and dtype of this
        optimizer's own vectors; nothing else is accepted.
        """
        expected = set(self._vectors) | {"n_steps"}
        if set(state) != expected:
            raise ValueError(f"optimizer state must have the entries {sorted(expected)}, "
                             f"got {sorted(state)}")
        for name in self._vectors:
            mine, value = getattr(self, name), np.asarray(state[name])
            if value.shape != mine.shape or value.dtype != mine.dtype:
                raise ValueError(
                    f"optimizer state {name!r} has shape {value.shape} and dtype "
                    f"{value.dtype}; the model needs {mine.shape} {mine.dtype}")
        n_steps = state["n_steps"]
        if not isinstance(n_steps, (int, np.integer)) or isinstance(n_steps, bool) \
                or n_steps < 0:
            raise ValueError(f"optimizer state 'n_steps' must be an int >= 0, got {n_steps!r}")
        for name in self._vectors:
            getattr(self, name)[...] = state[name]
        self.n_steps = int(n_steps)


class SGD(Optimizer):
    """Stochastic gradient descent with optional (Nesterov) momentum."""

    _vectors = ("velocity",)

    def __init__(self, params, momentum=0.9, nesterov=True):
        super().__init__(params)
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)

    def step(self, params, grads, lr, n_threads=1):
        """Update ``params`` in place; return whether they are all finite after it."""
        finite = _optim.sgd_update(params, grads, self.velocity, lr, self.momentum,
                                   self.nesterov and self.momentum > 0, n_threads)
        self.count_step()
        return finite

    def fused_step(self, lr):
        return FusedStep(_optim.SGD, self.velocity, None, lr, self.momentum, 0.0, 0.0,
                         self.nesterov)


class Adam(Optimizer):
    """Adam with bias correction (Kingma & Ba, 2015)."""

    _vectors = ("m", "v")

    def __init__(self, params, beta_1=0.9, beta_2=0.999, epsilon=1e-8):
        super().__init__(params)
        self.beta_1, self.beta_2, self.epsilon = float(beta_1), float(beta_2), float(epsilon)

    def step(self, params, grads, lr, n_threads=1):
        finite = _optim.adam_update(params, grads, self.m, self.v, self._corrected(lr),
                                    self.beta_1, self.beta_2, self.epsilon, n_threads)
        self.count_step()
        return finite

    def fused_step(self, lr):
        return FusedStep(_optim.ADAM, self.m, self.v, self._corrected(lr), self.beta_1,
                         self.beta_2, self.epsilon, False)

    def _corrected(self, lr):
        """``lr`` with both bias corrections of the next step folded in."""
        t = self.n_steps + 1
        return lr * math.sqrt(1 - self.beta_2 ** t) / (1 - self.beta_1 ** t)


class RMSprop(Optimizer):
    """RMSprop: divide the step by a running RMS of the gradient."""

    _vectors = ("sq",)

    def __init__(self, params, rho=0.9, epsilon=1e-7):
        super().__init__(params)
        self.rho, self.epsilon = float(rho), float(epsilon)

    def step(self, params, grads, lr, n_threads=1):
        finite = _optim.rmsprop_update(params, grads, self.sq, lr, self.rho, self.epsilon,
                                       n_threads)
        self.count_step()
        return finite

    def fused_step(self, lr):
        return FusedStep(_optim.RMSPROP, self.sq, None, lr, self.rho, 0.0, self.epsilon,
                         False)


#: solver name -> optimizer class
OPTIMIZERS = {"sgd": SGD, "adam": Adam, "rmsprop": RMSprop}


def make_optimizer(solver, params, est):
    """Build the optimizer named ``solver`` with the estimator's hyper-parameters."""
    if solver == "sgd":
        return SGD(params, est.momentum, est.nesterovs_momentum)
    if solver == "adam":
        return Adam(params, est.beta_1, est.beta_2, est.epsilon)
    if solver == "rmsprop":
        return RMSprop(params, est.rho, est.epsilon)
    raise ValueError(f"unknown solver {solver!r}; expected one of {sorted(OPTIMIZERS)}")
