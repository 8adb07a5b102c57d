import numpy as np
import pytest

from d2l_gluon.chapters import model_selection
from d2l_gluon.compare import compare
from d2l_gluon.config import make_config
from d2l_gluon.chapters.model_selection import OPTIONS, TRUE_B, TRUE_W, fit, load_data, poly_data

from .helpers import assert_png, run_main

TRUTH = np.array(TRUE_W + [TRUE_B])


def coefficients(entry):
    """Return [w..., b] of a run (its fitted params) or of a reference entry."""
    params = entry.get('params', entry)
    return np.array(params['w'] + params['b'])


def test_poly_data_is_the_books_cubic_with_noise_01():
    features, labels = poly_data(2000)
    X = features.asnumpy().astype(np.float64)
    assert X.shape == (2000, 3)
    np.testing.assert_allclose(X[:, 1], X[:, 0] ** 2, rtol=1e-5)
    np.testing.assert_allclose(X[:, 2], X[:, 0] ** 3, rtol=1e-5)
    residual = labels.asnumpy() - X @ np.array(TRUE_W) - TRUE_B
    assert abs(residual.std() - 0.1) < 0.01 and abs(residual.mean()) < 0.01


def test_each_case_takes_its_columns_examples_and_batch_size():
    data = load_data(make_config(OPTIONS))
    shapes = {case: (d.features.shape, d.test_features.shape, d.train_iter.batch_size)
              for case, d in data.cases.items()}
    assert shapes == {'normal': ((100, 3), (100, 3), 10), 'underfit': ((100, 1), (100, 1), 10),
                      'overfit': ((2, 3), (100, 3), 2)}
    # one draw: the cases share their examples, the test set is the last n_test
    normal, underfit = data.cases['normal'], data.cases['underfit']
    assert (underfit.features.asnumpy()[:, 0] == normal.features.asnumpy()[:, 0]).all()
    assert (data.cases['overfit'].labels.asnumpy() == normal.labels.asnumpy()[:2]).all()
    assert data.train_iter is normal.train_iter  # load_data's own fields are the first case's


@pytest.mark.parametrize('case', ['normal', 'underfit', 'overfit'])
def test_scratch_and_gluon_agree_epoch_by_epoch_from_one_start(case):
    result = compare(model_selection.CHAPTER, make_config(OPTIONS, case=case, num_epochs=5))
    assert [epoch for epoch, _ in result.pairs[0].epochs] == [1, 2, 3, 4, 5]
    assert result.loss_diff < 1e-5 and result.param_diff < 1e-5, result


def test_compare_fails_when_gluon_starts_elsewhere():
    result = compare(model_selection.CHAPTER, make_config(OPTIONS, case='normal', num_epochs=2), perturb=0.1)
    assert result.param_diff > 1e-3


def test_least_squares_reference_of_each_case():
    data = load_data(make_config(OPTIONS))
    for case, d in data.cases.items():
        w, b = model_selection.closed_form(d.features, d.labels)
        A = np.hstack([d.features.asnumpy().astype(np.float64), np.ones((len(d.labels), 1))])
        residual = A @ np.concatenate([w.ravel(), b]) - d.labels.asnumpy()
        assert np.abs(A.T @ residual).max() < 1e-6, case  # the normal equation holds
        if case == 'normal':
            assert np.abs(np.concatenate([w.ravel(), b]) - TRUTH).max() < 0.05
        if case == 'overfit':  # 2 equations, 4 unknowns: lstsq interpolates both points
            assert np.abs(residual).max() < 1e-5


def test_the_normal_fit_reaches_least_squares_and_the_truth():
    # SGD with lr 0.01 moves slowly along x, which is correlated with x³ (0.77); the book's 100
    # epochs leave the x coefficient 0.04-0.12 from least squares, 300 epochs reach it
    config = make_config(OPTIONS, case='normal', impl='scratch', num_epochs=300)
    metrics = fit(config).metrics
    fitted = coefficients(metrics['runs']['normal scratch'])
    reference = coefficients(metrics['reference']['normal'])
    assert np.abs(fitted - reference).max() < 0.005
    assert np.abs(fitted - TRUTH).max() < 0.05


def test_underfitting_and_overfitting_show_in_the_losses():
    metrics = fit(make_config(OPTIONS, impl='scratch', num_epochs=20)).metrics
    last = {name.split(' ')[0]: run['epochs'][-1] for name, run in metrics['runs'].items()}
    assert list(metrics['runs']) == ['normal scratch', 'underfit scratch', 'overfit scratch']
    # the linear model cannot follow the cubic: both of its losses stay high
    assert last['underfit']['loss'] > 10 * last['normal']['loss']
    assert last['underfit']['test_loss'] > 10 * last['normal']['test_loss']
    # two examples are fitted closely, the test set not at all
    assert last['overfit']['test_loss'] > 20 * last['overfit']['loss']
    assert last['overfit']['test_loss'] > 10 * last['normal']['test_loss']


def test_polyfit_command_trains_every_case_and_draws_the_losses(tmp_path):
    out = tmp_path / 'run'
    done = run_main('polyfit', '--num-epochs', 2, '--out', out)
    assert done.returncode == 0, done.stderr
    for case in ('normal', 'underfit', 'overfit'):
        assert '%s:' % case in done.stdout and '%s gluon' % case in done.stdout
    import json
    metrics = json.loads((out / 'metrics.json').read_text())
    assert metrics['finished'] and len(metrics['runs']) == 6
    assert [e['epoch'] for e in metrics['runs']['overfit gluon']['epochs']] == [1, 2]
    assert set(metrics['reference']) == {'normal', 'underfit', 'overfit'}
    assert_png(out / 'loss.png')


def test_polyfit_prints_every_50th_epoch_by_default_not_each_of_the_100(tmp_path, capsys):
    from d2l_gluon import cli
    assert cli.main(['polyfit', '--out', str(tmp_path / 'run')]) == 0
    epochs = [line.split(' epoch ')[1].split(',')[0] for line in capsys.readouterr().out.splitlines()
              if ' epoch ' in line]
    assert epochs == ['1', '50', '100'] * 6  # three cases, two versions each
