"""Optimizers: state vectors the size of the model, updated by one kernel call."""

import math

import numpy as np

from ._kernels import _optim


class SGD:
    """Stochastic gradient descent with optional (Nesterov) momentum."""

    def __init__(self, params, momentum=0.9, nesterov=True):
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)
        self.velocity = np.zeros_like(params)

    def step(self, params, grads, lr, n_threads=1):
        _optim.sgd_update(params, grads, self.velocity, lr, self.momentum,
                          self.nesterov and self.momentum > 0, n_threads)

    def fused_step_args(self, lr):
        """This step's arguments for a kernel that applies it itself (``_stack.pyx``)."""
        return dict(solver=_optim.SGD, state1=self.velocity, lr=lr,
                    decay1=self.momentum, nesterov=self.nesterov)

    def step_taken(self):
        """SGD keeps no step count."""


class Adam:
    """Adam with bias correction (Kingma & Ba, 2015)."""

    def __init__(self, params, beta_1=0.9, beta_2=0.999, epsilon=1e-8):
        self.beta_1, self.beta_2, self.epsilon = float(beta_1), float(beta_2), float(epsilon)
        self.m = np.zeros_like(params)
        self.v = np.zeros_like(params)
        self.t = 0

    def step(self, params, grads, lr, n_threads=1):
        _optim.adam_update(params, grads, self.m, self.v, self._corrected(lr), self.beta_1,
                           self.beta_2, self.epsilon, n_threads)
        self.step_taken()

    def fused_step_args(self, lr):
        """This step's arguments for a kernel that applies it itself (``_stack.pyx``)."""
        return dict(solver=_optim.ADAM, state1=self.m, state2=self.v,
                    lr=self._corrected(lr), decay1=self.beta_1, decay2=self.beta_2,
                    eps=self.epsilon)

    def step_taken(self):
        """Count a step that a kernel applied with :meth:`fused_step_args`."""
        self.t += 1

    def _corrected(self, lr):
        """``lr`` with both bias corrections of the next step folded in."""
        t = self.t + 1
        return lr * math.sqrt(1 - self.beta_2 ** t) / (1 - self.beta_1 ** t)


class RMSprop:
    """RMSprop: divide the step by a running RMS of the gradient."""

    def __init__(self, params, rho=0.9, epsilon=1e-7):
        self.rho, self.epsilon = float(rho), float(epsilon)
        self.sq = np.zeros_like(params)

    def step(self, params, grads, lr, n_threads=1):
        _optim.rmsprop_update(params, grads, self.sq, lr, self.rho, self.epsilon, n_threads)

    def fused_step_args(self, lr):
        """This step's arguments for a kernel that applies it itself (``_stack.pyx``)."""
        return dict(solver=_optim.RMSPROP, state1=self.sq, lr=lr, decay1=self.rho,
                    eps=self.epsilon)

    def step_taken(self):
        """RMSprop keeps no step count."""


def make_optimizer(solver, params, est):
    """Build the optimizer named ``solver`` with the estimator's hyper-parameters."""
    if solver == "sgd":
        return SGD(params, est.momentum, est.nesterovs_momentum)
    if solver == "adam":
        return Adam(params, est.beta_1, est.beta_2, est.epsilon)
    if solver == "rmsprop":
        return RMSprop(params, est.rho, est.epsilon)
    raise ValueError(f"unknown solver {solver!r}; expected 'sgd', 'adam' or 'rmsprop'")
