import json

import numpy as np
import pytest
from mxnet import autograd, nd

import d2l_gluon
from d2l_gluon.chapters import weight_decay
from d2l_gluon.compare import compare
from d2l_gluon.config import make_config
from d2l_gluon.params import copy_to_gluon, gluon_as_scratch
from d2l_gluon.chapters.weight_decay import OPTIONS, fit, l2_penalty, load_data, ridge, setup

from .helpers import assert_close, assert_png, autograd_gradient, numeric_gradient, run_main


def test_data_is_the_books_high_dimensional_regression():
    data = load_data(make_config(OPTIONS))
    assert data.features.shape == (20, 200) and data.test_features.shape == (100, 200)
    assert list(data.cases) == ['lambda=0', 'lambda=3']
    X = np.vstack([data.features.asnumpy(), data.test_features.asnumpy()]).astype(np.float64)
    y = np.concatenate([data.labels.asnumpy(), data.test_labels.asnumpy()])
    residual = y - X.sum(axis=1) * 0.01 - 0.05
    assert abs(residual.std() - 0.01) < 0.003


def test_a_negative_penalty_is_refused():
    with pytest.raises(d2l_gluon.D2LError, match='>= 0'):
        load_data(make_config(OPTIONS, lambd=[3.0, -1.0]))


def test_penalised_loss_gradient_is_lambda_w_more_than_the_squared_loss():
    config = make_config(OPTIONS, lambd=[3.0])
    version = setup('scratch', config)
    w, b = version.params
    w64, b64 = w.astype('float64'), b.astype('float64')
    X = nd.random.normal(shape=(4, 200), dtype='float64')
    y = nd.random.normal(shape=(4,), dtype='float64')
    f = lambda: (nd.dot(X, w64) + b64 - y.reshape((-1, 1))) ** 2 / 2 + 3.0 * l2_penalty(w64)  # noqa: E731
    grad = autograd_gradient(f, w64)
    residual = X.asnumpy() @ w64.asnumpy() + b64.asnumpy() - y.asnumpy()[:, None]
    # four examples, each carrying the penalty: backward sums 4 λ w
    assert_close(grad, X.asnumpy().T @ residual + 4 * 3.0 * w64.asnumpy(), rtol=1e-10, atol=1e-10)
    small = nd.random.normal(shape=(3, 1), dtype='float64')
    g = lambda: l2_penalty(small)  # noqa: E731
    assert_close(autograd_gradient(g, small), numeric_gradient(g, small), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize('batch_size', [1, 4])
def test_scratch_penalty_step_equals_gluon_wd_step(batch_size):
    config = make_config(OPTIONS, lambd=[3.0], lr=0.01)
    scratch, glu = setup('scratch', config), setup('gluon', config)
    copy_to_gluon(scratch.params, glu.net)
    before = scratch.params[0].asnumpy().copy()
    data = load_data(config)
    X, y = data.features[:batch_size], data.labels[:batch_size]
    for version in (scratch, glu):
        for _ in range(3):
            with autograd.record():
                l = version.loss(version.net(X), y)
            l.backward()
            version.updater(batch_size)
    w, b = gluon_as_scratch(glu.net)
    start = np.abs(w.asnumpy()).max()
    assert start > 0.1  # N(0, 1) start: λ w is a large part of every step
    # float32: the scratch step sums λ w into the gradient before dividing, Gluon adds it after,
    # so entries near 0 differ by rounding of the whole step (|w| is about 1)
    assert_close(scratch.params[0], w, rtol=1e-5, atol=1e-5, what='w after 3 steps')
    assert_close(scratch.params[1], b, rtol=1e-5, atol=1e-5, what='b after 3 steps')
    assert not np.allclose(w.asnumpy(), before, atol=1e-3), 'the steps moved nothing'


def test_compare_agrees_epoch_by_epoch_and_fails_when_gluon_lacks_decay(monkeypatch):
    config = make_config(OPTIONS, lambd=[3.0], num_epochs=3)
    result = compare(weight_decay.CHAPTER, config)
    assert result.loss_diff < 1e-5 and result.param_diff < 1e-5, result
    # the same Gluon set-up without wd must be caught
    original = weight_decay.gluon_setup
    monkeypatch.setattr(weight_decay, 'gluon_setup',
                        lambda config, ctx=None: original(dict(config, lambd=[0.0]), ctx))
    assert compare(weight_decay.CHAPTER, config).param_diff > 1e-2


def test_ridge_solves_its_normal_equation_and_leaves_b_unpenalised():
    data = load_data(make_config(OPTIONS))
    w, b = ridge(data.features, data.labels, 3.0)
    X = data.features.asnumpy().astype(np.float64)
    residual = X @ w + b - data.labels.asnumpy()[:, None]
    assert abs(residual.mean()) < 1e-10  # ∂/∂b: the mean residual is 0
    assert_close(X.T @ residual / 20 + 3.0 * w, np.zeros_like(w), atol=1e-10)  # ∂/∂w = 0
    assert np.linalg.norm(w) < np.linalg.norm(ridge(data.features, data.labels, 0.3)[0])


def test_long_full_batch_training_converges_to_ridge():
    # batch 20 = n_train: each step is gradient descent on mean squared loss + λ/2 ||w||²
    config = make_config(OPTIONS, lambd=[3.0], batch_size=20, lr=0.05, num_epochs=1000)
    metrics = fit(config).metrics
    reference = metrics['reference']['lambda=3']
    expected = np.array(reference['w'] + reference['b'])
    for impl in ('scratch', 'gluon'):
        params = metrics['runs']['lambda=3 %s' % impl]['params']
        assert np.abs(np.array(params['w'] + params['b']) - expected).max() < 1e-4, impl


def test_weight_decay_trades_training_loss_for_test_loss_as_in_the_book():
    metrics = fit(make_config(OPTIONS, impl='scratch')).metrics
    free, decayed = (metrics['runs']['lambda=%d scratch' % v]['epochs'][-1] for v in (0, 3))
    assert free['loss'] < 1e-4 and free['test_loss'] > 10  # 20 examples, 201 parameters: memorised
    assert decayed['test_loss'] < free['test_loss'] / 100
    assert decayed['w_norm'] < free['w_norm'] / 100


def test_weight_decay_command_runs_both_penalties_and_draws(tmp_path):
    out = tmp_path / 'run'
    done = run_main('weight-decay', '--num-epochs', 2, '--out', out)
    assert done.returncode == 0, done.stderr
    assert 'lambda=3 gluon' in done.stdout and 'ridge' in done.stdout
    metrics = json.loads((out / 'metrics.json').read_text())
    assert sorted(metrics['runs']) == ['lambda=0 gluon', 'lambda=0 scratch', 'lambda=3 gluon',
                                       'lambda=3 scratch']
    assert 'w_norm' in metrics['runs']['lambda=3 gluon']['epochs'][-1]
    for name in ('loss.png', 'norm.png'):
        assert_png(out / name)


def _divides_the_training_set(batch_size, step_divisor):
    """The combinations in which every batch's penalty weighs what Gluon's wd does in its step."""
    return step_divisor == 'actual' or (step_divisor == 'batch-size' and 20 % batch_size == 0) \
        or batch_size == 1


@pytest.mark.parametrize('step_divisor', ['batch-size', 'actual', 'none'])
@pytest.mark.parametrize('batch_size', [1, 2, 3, 4, 5, 6, 10, 20, 30])
def test_scratch_and_gluon_agree_for_every_accepted_batch_and_the_rest_is_refused(
        batch_size, step_divisor, monkeypatch):
    config = make_config(OPTIONS, lambd=[3.0], num_epochs=5, batch_size=batch_size,
                         step_divisor=step_divisor)
    tolerance = weight_decay.CHAPTER.compare.tolerance
    if _divides_the_training_set(batch_size, step_divisor):
        result = compare(weight_decay.CHAPTER, config)
        assert max(result.loss_diff, result.param_diff) < tolerance, result
        return
    with pytest.raises(d2l_gluon.D2LError, match='--batch-size %d' % batch_size) as refused:
        compare(weight_decay.CHAPTER, config)
    assert '\n' not in str(refused.value) and '--step-divisor' in str(refused.value)
    with pytest.raises(d2l_gluon.D2LError, match='--batch-size'):
        fit(dict(config, impl='scratch'))  # the library refuses it too, not only the settings
    # the refusal is needed: without it the two versions part
    monkeypatch.setattr(weight_decay, 'check_penalty_weight', lambda config: None)
    assert compare(weight_decay.CHAPTER, config).param_diff > 100 * tolerance


@pytest.mark.parametrize('argv, words', [
    (['--batch-size', 3], ['--batch-size 3', 'last batch of 2', 'divides', '--n-train 20',
                           '--step-divisor actual']),
    (['--batch-size', 2, '--step-divisor', 'none'], ['--step-divisor none', '--batch-size 2',
                                                     '--batch-size 1']),
    (['--batch-size', 8, '--n-train', 12], ['--batch-size 8', 'last batch of 4', '--n-train 12']),
])
def test_weight_decay_command_refuses_a_penalty_the_versions_weigh_differently(tmp_path, capsys,
                                                                              argv, words):
    from d2l_gluon import cli
    out = tmp_path / 'run'
    code = cli.main(['weight-decay'] + [str(a) for a in argv] + ['--out', str(out)])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    for word in words:
        assert word in err, err
    assert not out.exists()


def test_moving_loss_means_the_same_for_both_versions():
    # scratch's loss carries the penalty, Gluon's wd steps it: the batch loss both record is the
    # objective, squared loss + λ/2 ||w||², so their moving averages agree as their losses do
    from d2l_gluon.monitor import Watch
    metrics = fit(make_config(OPTIONS, lambd=[3.0], num_epochs=2), watch=Watch()).metrics
    scratch, gluon = (metrics['runs']['lambda=3 %s' % impl]['epochs'] for impl in ('scratch', 'gluon'))
    for key in ('loss', 'moving_loss'):
        assert_close([e[key] for e in gluon], [e[key] for e in scratch], rtol=1e-4, atol=0, what=key)
    assert gluon[0]['reference_loss'] == pytest.approx(scratch[0]['reference_loss'], rel=1e-4)
    # the penalty of w ~ N(0, 1) in 200 inputs dominates: the objective is far above the loss
    assert scratch[0]['reference_loss'] > 3 * scratch[0]['loss']


@pytest.mark.slow  # several processes or many runs: seconds the fast tier skips; CI runs it
def test_weight_decay_prints_every_50th_epoch_by_default_not_each_of_the_100(tmp_path, capsys):
    from d2l_gluon import cli
    assert cli.main(['weight-decay', '--out', str(tmp_path / 'run')]) == 0
    epochs = [line.split(' epoch ')[1].split(',')[0] for line in capsys.readouterr().out.splitlines()
              if ' epoch ' in line]
    assert epochs == ['1', '50', '100'] * 4  # two penalties, two versions each
