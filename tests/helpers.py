"""Shared test helpers: the parity assertion and a CLI runner."""
import subprocess
import sys

import numpy as np
from mxnet import nd


def as_numpy(x):
    return x.asnumpy() if isinstance(x, nd.NDArray) else np.asarray(x)


def assert_close(actual, expected, rtol=1e-5, atol=1e-6, what='value'):
    """Assert same shape first, then values within rtol/atol."""
    actual, expected = as_numpy(actual), as_numpy(expected)
    assert actual.shape == expected.shape, '%s: shape %s != %s' % (what, actual.shape, expected.shape)
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol, err_msg=what)


def numeric_gradient(f, x, eps=1e-6):
    """Central finite differences of the scalar f() with respect to each entry of the float64 NDArray x."""
    values = x.asnumpy()
    grad = np.zeros_like(values)
    for i in np.ndindex(values.shape):
        saved = values[i]
        for sign in (1, -1):
            values[i] = saved + sign * eps
            x[:] = values
            grad[i] += sign * float(f().sum().asscalar()) / (2 * eps)
        values[i] = saved
    x[:] = values
    return grad


def autograd_gradient(f, x):
    """The autograd gradient of f().sum() with respect to x."""
    from mxnet import autograd
    x.attach_grad()
    with autograd.record():
        out = f()
    out.backward()
    return x.grad.asnumpy()


def run_cli(*args, timeout=600):
    """Run ``python -m d2l_gluon ARGS`` in a subprocess; return the CompletedProcess."""
    return subprocess.run([sys.executable, '-m', 'd2l_gluon'] + [str(a) for a in args],
                          capture_output=True, text=True, timeout=timeout)
