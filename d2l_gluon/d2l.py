"""The book's saved functions (Dive into Deep Learning, first edition, MXNet), in its shape and names.

The chapters in ``d2l_gluon.chapters`` call these, as the book's sections
call ``d2l.sgd`` or ``d2l.train_ch3``.  They know no run folder, device list
or divergence rule: the tooling watches training through the one optional
``monitor`` argument of ``train_ch3`` (and of the loops the chapters write
inline), and a reader can ignore it.
"""
import numpy as np
from mxnet import autograd, nd

# data_iter (3.2) and get_fashion_mnist_labels (3.5) are the book's too; they live in data.py,
# whose loaders build on them, and are the same functions here
from .data import check_size, data_iter, get_fashion_mnist_labels, load_fashion_mnist  # noqa: F401


# ---- linear regression (3.2)

def synthetic_data(w, b, num_examples, noise=0.01, ctx=None):
    """Return features (num_examples, len(w)) ~ N(0, 1) and labels (num_examples,) = Xw + b + N(0, noise²)."""
    check_size(num_examples, len(w))
    w = nd.array(w, ctx=ctx).reshape((-1, 1))
    features = nd.random.normal(0, 1, shape=(num_examples, w.shape[0]), ctx=ctx)
    labels = nd.dot(features, w).reshape((-1,)) + b
    if noise:  # mxnet's normal refuses a scale of 0
        labels += nd.random.normal(0, noise, shape=labels.shape, ctx=ctx)
    return features, labels


def linreg(X, w, b):
    """Return predictions X w + b, shape (batch_size, 1)."""
    return nd.dot(X, w) + b


def squared_loss(y_hat, y):
    """Return per-example squared loss (y_hat - y)² / 2, shape of y_hat."""
    return (y_hat - y.reshape(y_hat.shape)) ** 2 / 2


def sgd(params, lr, batch_size):
    """Take one minibatch SGD step in place: param -= lr * grad / batch_size."""
    for param in params:
        # grad holds the sum over the batch (backward of per-example losses); updating in
        # place with the scalar lr / batch_size takes two operations instead of four
        param -= lr / batch_size * param.grad


# ---- Fashion-MNIST (3.5)

def load_data_fashion_mnist(batch_size, root=None, loader='fast', num_workers=0, ctx=None):
    """Return (train_iter, test_iter): X (batch, 1, 28, 28) float32 in [0, 1], y (batch,) int32.

    loader='book' is the book's Dataset + ToTensor + DataLoader; 'fast' holds
    each set in memory as one NDArray.  Both yield the same batches.
    """
    return load_fashion_mnist(batch_size, root, loader, num_workers, ctx)


# ---- softmax regression (3.6)

def accuracy(y_hat, y):
    """Return the number of rows whose arg-max equals the label, as a 1-element NDArray."""
    return (y_hat.argmax(axis=1) == y.astype(y_hat.dtype)).sum()


def evaluate_accuracy(data_iter, net):
    """Return the fraction of examples in data_iter that net classifies correctly."""
    outputs, labels = [], []
    for X, y in data_iter:
        outputs.append(net(X))
        labels.append(y)
    # one accuracy over all the batches' outputs: four calls in all, not four per batch
    n = sum(y.shape[0] for y in labels)
    return float(accuracy(concat(outputs), concat(labels)).asscalar()) / n


def to_numpy(arrays, chunk=512):
    """Return a list of NDArrays (1-element or vectors) as one float64 numpy vector, with one device sync."""
    return concat(arrays, chunk).asnumpy().astype(np.float64) if arrays else np.zeros(0)


def concat(arrays, chunk=512):
    """Return NDArrays joined along axis 0, in calls of at most chunk inputs each."""
    parts = [nd.concat(*arrays[i:i + chunk], dim=0) for i in range(0, len(arrays), chunk)]
    return parts[0] if len(parts) == 1 else nd.concat(*parts, dim=0)


def batch_sums(losses):
    """Return each batch's loss sum, float64 numpy, from the batches' per-example losses on the device.

    Batches of one size are stacked and summed row by row, one call for them
    all: the same float32 sums as l.sum() on each batch, and one device sync.
    """
    sums, i = [], 0
    for j in range(1, len(losses) + 1):
        if j == len(losses) or losses[j].size != losses[i].size:  # batches i..j-1 share a size
            sums.append(concat([l.reshape((1, -1)) for l in losses[i:j]]).sum(axis=1))
            i = j
    return to_numpy(sums)


def train_epoch_ch3(net, train_iter, loss, updater, batch_size, accuracy=accuracy):
    """Train net for one pass over train_iter; return per-batch loss sums, the correct count and sizes.

    updater(batch_size) takes one step: ``lambda n: sgd(params, lr, n)`` or
    ``trainer.step``.  batch_size=None steps with each batch's own size.
    accuracy=None skips the correct count (regression).
    """
    losses, outputs, labels = [], [], []
    for X, y in train_iter:
        with autograd.record():
            y_hat = net(X)
            l = loss(y_hat, y)
        l.backward()  # l holds one loss per example: backward sums them
        updater(X.shape[0] if batch_size is None else batch_size)
        # the batch's losses and outputs stay on the device and are summed when the epoch
        # has ended: no call and no wait per batch beyond the step itself
        losses.append(l)
        if accuracy is not None:
            outputs.append(y_hat)
            labels.append(y)
    correct = [accuracy(concat(outputs), concat(labels))] if outputs else []
    sizes = np.array([l.shape[0] for l in losses], dtype=np.float64)
    return batch_sums(losses), to_numpy(correct), sizes


def train_ch3(net, train_iter, test_iter, loss, num_epochs, batch_size, params=None, lr=None,
              trainer=None, monitor=None):
    """Train net by sgd(params, lr, batch_size) or trainer.step(batch_size); return one dict per epoch.

    Each record holds the epoch's mean loss, training and test accuracy, the
    numbers the book prints.  monitor.on_epoch(record, loss_sums, sizes),
    when given, sees every record and the epoch's per-batch losses.
    """
    updater = trainer.step if trainer is not None else lambda n: sgd(params, lr, n)
    history = []
    for epoch in range(num_epochs):
        l_sums, correct, sizes = train_epoch_ch3(net, train_iter, loss, updater, batch_size)
        test_acc = evaluate_accuracy(test_iter, net)
        n = sizes.sum()
        history.append({'epoch': epoch + 1, 'loss': float(l_sums.sum() / n),
                        'train_acc': float(correct.sum() / n), 'test_acc': test_acc})
        if monitor is not None:
            monitor.on_epoch(history[-1], l_sums, sizes)
    return history
