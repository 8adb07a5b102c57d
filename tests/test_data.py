import numpy as np
import pytest
from mxnet import nd
from mxnet.gluon import data as gdata

from d2l_gluon import D2LError, seed
from d2l_gluon.data import ArrayLoader, data_iter


@pytest.mark.parametrize('num_examples, batch_size', [(100, 10), (103, 10), (7, 10), (5, 1)])
def test_data_iter_visits_every_example_once(num_examples, batch_size):
    features = nd.arange(num_examples).reshape((-1, 1))
    labels = nd.arange(num_examples)
    seen, sizes = [], []
    for X, y in data_iter(batch_size, features, labels):
        assert (X[:, 0] == y).min() == 1, 'features and labels stay paired'
        seen.extend(y.asnumpy().astype(int).tolist())
        sizes.append(X.shape[0])
    assert sorted(seen) == list(range(num_examples))
    assert sizes[:-1] == [batch_size] * (len(sizes) - 1)
    assert sizes[-1] == num_examples - batch_size * (len(sizes) - 1)


def test_data_iter_shuffles_and_the_seed_fixes_the_order():
    features, labels = nd.arange(50).reshape((-1, 1)), nd.arange(50)
    orders = []
    for s in (3, 3, 4):
        seed(s)
        orders.append(np.concatenate([y.asnumpy() for _, y in data_iter(8, features, labels)]))
    assert (orders[0] == orders[1]).all()
    assert not (orders[0] == orders[2]).all()
    assert not (orders[0] == np.arange(50)).all()


def test_array_loader_yields_the_batches_of_gluon_dataloader():
    features = nd.random.normal(shape=(37, 3))
    labels = nd.arange(37)
    loader = gdata.DataLoader(gdata.ArrayDataset(features, labels), 8, shuffle=True)
    for _ in range(2):  # two epochs: the numpy stream advances the same way
        seed(11)
        ours = list(ArrayLoader(features, labels, 8))
        seed(11)
        theirs = list(loader)
        assert len(ours) == len(theirs) == len(ArrayLoader(features, labels, 8)) == 5
        for (X1, y1), (X2, y2) in zip(ours, theirs):
            assert (X1.asnumpy() == X2.asnumpy()).all() and (y1.asnumpy() == y2.asnumpy()).all()


def test_data_iter_rejects_a_batch_size_of_zero():
    with pytest.raises(D2LError, match='batch_size'):
        next(data_iter(0, nd.zeros((3, 1)), nd.zeros(3)))



def test_array_loader_yields_data_iters_batches_from_one_gather_per_epoch(monkeypatch):
    import mxnet.ndarray.register as register
    features, labels = nd.random.normal(shape=(37, 3)), nd.arange(37)
    seed(5)
    expected = list(data_iter(8, features, labels))
    calls, invoke = [], register._imperative_invoke
    monkeypatch.setattr(register, '_imperative_invoke', lambda *args: calls.append(1) or invoke(*args))
    seed(5)
    ours = list(ArrayLoader(features, labels, 8))
    # the permuted features and labels: two gathers per epoch, not two per batch; slices are views
    assert len(calls) == 2
    monkeypatch.undo()
    assert len(ours) == len(expected) == 5
    for (X1, y1), (X2, y2) in zip(ours, expected):
        assert (X1.asnumpy() == X2.asnumpy()).all() and (y1.asnumpy() == y2.asnumpy()).all()
