"""Shared test helpers: the parity assertion and two CLI runners (in this process, in a subprocess)."""
import contextlib
import functools
import io
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


def run_main(*args):
    """Run ``d2l-gluon ARGS`` as cli.main in this process; return a CompletedProcess like run_cli's.

    Seconds faster than run_cli (no Python or MXNet start-up): use it unless the process
    itself is what is tested (the entry point, exit codes on signals, stdout, the environment).
    """
    from d2l_gluon import cli
    argv = [str(a) for a in args]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli.main(argv)
        except SystemExit as e:  # argparse's usage errors
            code = e.code
    return subprocess.CompletedProcess(['d2l-gluon'] + argv, code, out.getvalue(), err.getvalue())


def run_cli(*args, timeout=600):
    """Run ``python -m d2l_gluon ARGS`` in a subprocess; return the CompletedProcess."""
    return subprocess.run([sys.executable, '-m', 'd2l_gluon'] + [str(a) for a in args],
                          capture_output=True, text=True, timeout=timeout)


# ---- Fashion-MNIST fixtures written by the tests, and output checks

IDX_CODES = {np.dtype('uint8'): 0x08, np.dtype('int8'): 0x09, np.dtype('int16'): 0x0B,
             np.dtype('int32'): 0x0C, np.dtype('float32'): 0x0D, np.dtype('float64'): 0x0E}


def idx_bytes(array):
    """Return array encoded as an idx file: magic (0, 0, type code, ndim), big-endian dims, data."""
    import struct
    array = np.asarray(array)
    header = (bytes([0, 0, IDX_CODES[array.dtype], array.ndim])
              + struct.pack('>%dI' % array.ndim, *array.shape))
    return header + array.astype(array.dtype.newbyteorder('>')).tobytes()


def write_idx(path, array, gz=None):
    """Write array as an idx file at path, gzip-compressed when gz (default: path ends with .gz)."""
    import gzip
    path = str(path)
    gz = path.endswith('.gz') if gz is None else gz
    raw = idx_bytes(array)
    with (gzip.open if gz else open)(path, 'wb') as f:
        f.write(raw)
    return path


def fake_fashion_mnist(num_train=3, num_test=2, seed=0):
    """Return small random (train_images, train_labels, test_images, test_labels), uint8."""
    rng = np.random.RandomState(seed)
    return (rng.randint(0, 256, (num_train, 28, 28)).astype(np.uint8),
            rng.randint(0, 10, num_train).astype(np.uint8),
            rng.randint(0, 256, (num_test, 28, 28)).astype(np.uint8),
            rng.randint(0, 10, num_test).astype(np.uint8))


def write_fashion_mnist(folder, arrays=None, gz=True, **kwargs):
    """Write the four Fashion-MNIST idx files into folder; return {stem: path}.

    arrays defaults to fake_fashion_mnist(**kwargs); gz may be a bool or a {stem: bool}.
    """
    import os
    os.makedirs(str(folder), exist_ok=True)
    arrays = fake_fashion_mnist(**kwargs) if arrays is None else arrays
    stems = ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte',
             't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte']
    files = {}
    for stem, array in zip(stems, arrays):
        compressed = gz.get(stem, True) if isinstance(gz, dict) else gz
        files[stem] = write_idx(os.path.join(str(folder), stem + ('.gz' if compressed else '')), array)
    return files


def assert_png(path, min_size=(50, 50)):
    """Assert path is a PNG that decodes to an image at least min_size (height, width); return its shape."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.image
    with open(str(path), 'rb') as f:
        assert f.read(8) == b'\x89PNG\r\n\x1a\n', '%s is not a PNG' % path
    image = matplotlib.image.imread(str(path))
    assert image.ndim == 3 and image.shape[0] >= min_size[0] and image.shape[1] >= min_size[1], \
        '%s decodes to %s' % (path, image.shape)
    assert image.std() > 0, '%s is blank' % path
    return image.shape


def training_batches(batch_size, num_batches):
    """The first num_batches shuffled Fashion-MNIST training batches (fast loader, seed 0), as a list."""
    from d2l_gluon import seed
    from d2l_gluon.data import load_fashion_mnist
    seed(0)
    train_iter, _ = load_fashion_mnist(batch_size, loader='fast')
    return [batch for batch, _ in zip(train_iter, range(num_batches))]


def train_like_the_cli(chapter, impl, lr, num_epochs, seed_value=0, step_batch=256):
    """Train one version of a classifier as `d2l-gluon CHAPTER --seed seed_value` does; return the history.

    Every step divides by step_batch, the configured batch size (None: by each batch's size).
    """
    from d2l_gluon.chapters import chapter as find_chapter
    from d2l_gluon.config import make_config
    module = find_chapter(chapter)
    config = make_config(module.options, impl=impl, lr=lr, num_epochs=num_epochs, seed=seed_value,
                         step_divisor='batch-size' if step_batch == 256 else 'actual')
    assert step_batch in (256, None) and config['batch_size'] == 256
    data = _fashion_mnist(module.load_data, config['batch_size'])
    return module.fit(config, data=data).trained[impl].history


@functools.lru_cache(maxsize=None)
def _fashion_mnist(load_data, batch_size):
    """Return load_data's Data for batch_size, loaded once: a fit draws its batch order when it
    iterates, from the seed it sets, so the same Data serves every seed."""
    from d2l_gluon.chapters import softmax_regression
    from d2l_gluon.config import make_config
    return load_data(make_config(softmax_regression.OPTIONS, batch_size=batch_size))


def start_cli(*args, stdout=None, stderr=None):
    """Start ``python -m d2l_gluon ARGS`` with Ctrl-C working as in a terminal; return the Popen.

    A process a shell starts in the background inherits SIGINT ignored, and a
    Python started so installs no KeyboardInterrupt handler; resetting SIGINT
    to SIG_DFL before exec makes the child's Python install its default one.
    """
    import signal
    return subprocess.Popen([sys.executable, '-m', 'd2l_gluon'] + [str(a) for a in args],
                            stdout=stdout, stderr=stderr,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def one_line(stderr):
    """Assert stderr is exactly one line and no traceback; return the line."""
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and 'Traceback' not in stderr, stderr
    return lines[0]
