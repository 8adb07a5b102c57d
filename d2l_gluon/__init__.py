"""d2l-gluon: the first chapters of "Dive into Deep Learning" in MXNet Gluon.

Every model exists twice: a scratch version (NDArray + autograd, our own
model, loss and sgd) and a concise Gluon version.  ``import d2l_gluon``
checks the two dependencies that most often break first and tunes the
BLAS library before MXNet loads it.
"""
import os
import random
import sys

__version__ = '0.1.0'


def _check_numpy():
    try:
        import numpy
    except ImportError:
        raise ImportError("d2l_gluon needs numpy: run pip install 'numpy>=1.21,<1.24'") from None
    major, minor = (int(part) for part in numpy.__version__.split('.')[:2])
    if (major, minor) >= (1, 24):
        raise ImportError(
            'd2l_gluon needs numpy<1.24 (mxnet 1.9.1 uses np.bool, which numpy 1.24 removed); '
            "found numpy %s. Fix: pip install 'numpy>=1.21,<1.24'" % numpy.__version__)


def _cpu_flags():
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('flags'):
                    return set(line.split(':', 1)[1].split())
    except OSError:
        pass
    return set()


def _tune_openblas():
    """Let the OpenBLAS bundled with mxnet use AVX2 kernels where the CPU has them.

    The wheel's OpenBLAS falls back to generic kernels on CPUs it does not
    recognise, which makes nd.dot 3-5x slower.  Haswell kernels need AVX2 and
    FMA; we only ask for them when /proc/cpuinfo shows both, never override a
    user's setting, and cannot act once mxnet (and its OpenBLAS) is loaded.
    """
    if 'mxnet' in sys.modules or 'OPENBLAS_CORETYPE' in os.environ:
        return
    if {'avx2', 'fma'} <= _cpu_flags():
        os.environ['OPENBLAS_CORETYPE'] = 'Haswell'


_check_numpy()
_tune_openblas()
try:
    import mxnet as mx
except ImportError:
    raise ImportError('d2l_gluon needs mxnet 1.9.1: run pip install mxnet==1.9.1') from None

import numpy as np  # noqa: E402

from .errors import D2LError, DivergenceError  # noqa: E402,F401


def seed(n):
    """Seed Python's random, numpy and mx.random with the same integer n."""
    random.seed(n)
    np.random.seed(n)
    mx.random.seed(n)
