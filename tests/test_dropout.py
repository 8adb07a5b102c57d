import json
import statistics

import mxnet as mx
import numpy as np
import pytest
from mxnet import autograd, nd

import d2l_gluon
from d2l_gluon.chapters import dropout as chapter
from d2l_gluon.config import make_config
from d2l_gluon.chapters.dropout import OPTIONS, dropout, setup
from d2l_gluon.params import copy_to_gluon, gluon_as_scratch

from .helpers import (assert_close, assert_png, run_main, train_like_the_cli,
                      write_fashion_mnist)


def test_drop_probability_0_keeps_x_and_1_gives_zeros():
    X = nd.random.normal(shape=(8, 5))
    assert (dropout(X, 0).asnumpy() == X.asnumpy()).all()
    assert (dropout(X, 1).asnumpy() == 0).all()
    with pytest.raises(d2l_gluon.D2LError, match=r'\[0, 1\]'):
        dropout(X, 1.5)


@pytest.mark.parametrize('drop_prob', [0.2, 0.5, 0.9])
def test_mask_is_bernoulli_with_keep_probability_and_preserves_the_expectation(drop_prob):
    X = nd.ones((1000, 1000)) * 3.0
    out = dropout(X, drop_prob).asnumpy()
    kept = out != 0
    keep = 1 - drop_prob
    # 10⁶ Bernoulli(keep) draws: the kept fraction lies within 5 standard deviations
    assert abs(kept.mean() - keep) < 5 * np.sqrt(keep * (1 - keep) / kept.size)
    assert_close(out[kept], np.full(kept.sum(), 3.0 / keep, dtype=np.float32), rtol=1e-6)
    assert abs(out.mean() - 3.0) < 5 * 3.0 * np.sqrt(drop_prob / keep / kept.size)
    # neighbouring entries are independent: no correlation between the masks of adjacent columns
    assert abs(np.corrcoef(kept[:, :-1].ravel(), kept[:, 1:].ravel())[0, 1]) < 0.01


@pytest.mark.parametrize('dtype', ['float32', 'float64'])
@pytest.mark.parametrize('drop_prob', [0.2, 0.5])
def test_dropout_draws_the_dropout_operators_mask_from_the_same_seed(dtype, drop_prob):
    X = nd.random.normal(shape=(300, 700), dtype=dtype)
    mx.random.seed(7)
    ours = dropout(X, drop_prob)
    mx.random.seed(7)
    with autograd.record():
        theirs = nd.Dropout(X, p=drop_prob)
    assert (ours.asnumpy() == theirs.asnumpy()).all()


def test_dropout_acts_only_while_training():
    config = make_config(OPTIONS)
    X = nd.random.uniform(shape=(16, 1, 28, 28))
    for impl in ('scratch', 'gluon'):
        net = setup(impl, config).net
        assert (net(X).asnumpy() == net(X).asnumpy()).all(), impl  # prediction: no masks
        with autograd.record():
            trained = [net(X).asnumpy() for _ in range(2)]
        assert not np.allclose(trained[0], trained[1]), impl  # training: a new mask each pass


def twins(dtype):
    """Scratch and Gluon versions set up from one random state, as train_versions does."""
    config = make_config(OPTIONS)
    versions = []
    for impl in ('scratch', 'gluon'):
        d2l_gluon.seed(1)
        versions.append(setup(impl, config, dtype=dtype))
    return versions


def trained(impl, batches, dtype, mask_seed=1):
    """Set up impl from seed 1 and take one step per batch, as train_versions does; return (version, losses).

    mask_seed re-seeds mx.random after the set-up: the masks then come from elsewhere.
    """
    d2l_gluon.seed(1)
    version = setup(impl, make_config(OPTIONS), dtype=dtype)
    if mask_seed != 1:
        mx.random.seed(mask_seed)
    losses = []
    for X, y in batches:
        with autograd.record():
            l = version.loss(version.net(X), y)
        l.backward()
        version.updater(256)
        losses.append(l.mean().asscalar())
    return version, np.array(losses)


def fake_batches(n, dtype):
    d2l_gluon.seed(3)
    return [(nd.random.uniform(shape=(256, 1, 28, 28)).astype(dtype),
             nd.array(np.random.randint(0, 10, 256))) for _ in range(n)]


def test_both_versions_start_alike_and_drop_the_same_units():
    scratch, glu = twins('float32')
    for p, q in zip(scratch.params, gluon_as_scratch(glu.net)):
        assert (p.asnumpy() == q.asnumpy()).all()
    X = nd.random.uniform(shape=(64, 1, 28, 28))
    mx.random.seed(11)
    with autograd.record():
        a = scratch.net(X)
    mx.random.seed(11)
    with autograd.record():
        b = glu.net(X)
    assert_close(a, b, rtol=1e-5, atol=1e-7, what='logits with dropout')


@pytest.mark.parametrize('dtype, steps, rtol', [('float32', 10, 1e-5), ('float64', 40, 1e-10)])
def test_scratch_and_gluon_agree_step_by_step_with_the_same_masks(dtype, steps, rtol):
    batches = fake_batches(steps, dtype)
    (scratch, a), (glu, b) = (trained(impl, batches, dtype) for impl in ('scratch', 'gluon'))
    assert_close(a, b, rtol=rtol, atol=0, what='batch losses')
    for p, q in zip(scratch.params, gluon_as_scratch(glu.net)):
        # atol: a tenth of rtol against weights of about 0.01-0.02
        assert_close(p, q, rtol=rtol * 10, atol=rtol * 0.1, what='parameters after %d steps' % steps)
    assert np.abs(scratch.params[5].asnumpy()).max() > 1e-3  # the steps moved the output bias


def test_scratch_and_gluon_differ_with_other_masks():
    batches = fake_batches(5, 'float64')
    a = trained('scratch', batches, 'float64')[1]
    b = trained('gluon', batches, 'float64', mask_seed=99)[1]
    assert np.abs(a - b).max() > 1e-6


def test_dropout_command_trains_and_draws_on_a_small_data_set(tmp_path):
    data_dir = write_fashion_mnist(tmp_path / 'data', num_train=600, num_test=100)
    out = tmp_path / 'run'
    done = run_main('dropout', '--num-epochs', 1, '--data-dir', tmp_path / 'data', '--out', out)
    assert data_dir and done.returncode == 0, done.stderr
    assert 'test acc' in done.stdout
    metrics = json.loads((out / 'metrics.json').read_text())
    assert metrics['finished'] and set(metrics['runs']) == {'scratch', 'gluon'}
    assert metrics['max_abs_diff'] < 0.05
    assert_png(out / 'curves.png')


@pytest.mark.slow
@pytest.mark.parametrize('impl', ['scratch', 'gluon'])
def test_five_epochs_reach_84_percent_median_over_seeds(impl):
    accuracies = [train_like_the_cli('dropout', impl, 0.5, 5, seed)[-1]['test_acc']
                  for seed in range(5)]
    assert statistics.median(accuracies) >= 0.84, accuracies
