import json

import numpy as np
import pytest
from mxnet import init

from d2l_gluon.chapters import Trained
from d2l_gluon.chapters import initialization as chapter
from d2l_gluon.config import make_config

from .helpers import assert_close, assert_png, run_main, write_fashion_mnist

IMPLS = ('scratch', 'gluon')


def random_config(**changes):
    return make_config(chapter.OPTIONS, **dict({'data': 'random'}, **changes))


def layer_norms(impl, config, init_name):
    data = chapter.load_data(config)
    return np.array(chapter.norms(chapter.gradients(impl, config, init_name, data)[1]))


# ---- Xavier

def test_mxnet_xavier_defaults_are_uniform_avg_magnitude_3():
    xavier = init.Xavier()
    assert (xavier.rnd_type, xavier.factor_type, xavier.magnitude) == ('uniform', 'avg', 3.0)


@pytest.mark.parametrize('impl', IMPLS)
@pytest.mark.parametrize('fan_in, fan_out', [(1000, 1000), (784, 256)])
def test_xavier_draws_uniform_within_the_glorot_bound_with_variance_a2_over_3(impl, fan_in, fan_out):
    w = chapter.xavier_samples(impl, fan_in, fan_out).astype(np.float64)
    a = np.sqrt(6.0 / (fan_in + fan_out))
    assert w.shape == (fan_in, fan_out)
    assert chapter.xavier_bound(fan_in, fan_out) == pytest.approx(a, rel=1e-15)
    # every sample inside [-a, a] (float32 rounding allowed), and the edge reached: not a narrower law
    assert np.abs(w).max() <= a * (1 + 1e-6) and np.abs(w).max() > a * (1 - 1e-3)
    # the variance of U(-a, a) is a²/3; the sample variance of n draws has a relative standard
    # deviation of 3 sqrt(4/45) / sqrt(n): allow 5 of them
    n = w.size
    assert abs(w.var() / (a * a / 3) - 1) < 5 * 3 * np.sqrt(4 / 45) / np.sqrt(n)
    # uniform, not normal with that variance: half of the mass lies within a/2
    assert abs((np.abs(w) < a / 2).mean() - 0.5) < 5 * 0.5 / np.sqrt(n)


# ---- sigmoid and the product of random matrices

@pytest.mark.parametrize('impl', IMPLS)
def test_sigmoid_gradient_is_sigma_times_1_minus_sigma_quarter_at_0_and_vanishes_at_8(impl):
    x, y, dy = chapter.sigmoid_curve(impl)
    assert x[0] == -8 and x[-1] == 8 and 0 in x
    np.testing.assert_allclose(y, 1 / (1 + np.exp(-x)), rtol=1e-12)
    np.testing.assert_allclose(dy, chapter.sigmoid_gradient(x), rtol=1e-12, atol=0)
    # central differences of the values agree with autograd (step 0.1, error O(h²) σ''')
    np.testing.assert_allclose((y[2:] - y[:-2]) / (x[2:] - x[:-2]), dy[1:-1], rtol=2e-3)
    assert dy[x == 0][0] == 0.25
    # over 700 times smaller at ±8
    assert dy[0] == pytest.approx(3.3524e-4, rel=1e-4) and dy[-1] == pytest.approx(dy[0], rel=1e-12)


def test_product_of_100_random_matrices_grows_by_orders_of_magnitude_as_float64_confirms():
    norms, M, matrices = chapter.random_product(100)
    assert len(norms) == 101 and len(matrices) == 101
    assert norms[-1] / norms[0] > 1e15
    exact = matrices[0].asnumpy().astype(np.float64)
    for A in matrices[1:]:
        exact = exact @ A.asnumpy().astype(np.float64)
    np.testing.assert_allclose(M.asnumpy(), exact, rtol=1e-3, atol=1e-3 * np.abs(exact).max())
    # log ||M|| grows about linearly: 0.56 per product is the top Lyapunov exponent of 4x4 N(0, 1)
    slope = np.polyfit(np.arange(101), np.log(norms), 1)[0]
    assert 0.35 < slope < 0.8, slope


# ---- gradients of the deep MLP at initialisation

@pytest.mark.parametrize('impl', IMPLS)
def test_relu_gradients_explode_under_n01_and_vanish_under_n001_against_xavier(impl):
    # measured (seed 0, random data): N(0, 1) ~1e11, N(0, 0.01²) ~4e-10, Xavier ~3e-2 per layer
    config = random_config()
    normal1, normal001, xavier = (layer_norms(impl, config, name) for name in
                                  ('normal(1)', 'normal(0.01)', 'xavier'))
    assert len(xavier) == config['num_layers'] + 1
    assert (normal1 > 1e8 * xavier).all(), normal1 / xavier
    assert (normal001 < 1e-6 * xavier).all(), normal001 / xavier
    assert xavier.max() / xavier.min() < 10, xavier  # of one order from the input to the output


@pytest.mark.parametrize('impl', IMPLS)
def test_sigmoid_gradients_vanish_toward_the_input_even_under_xavier(impl):
    # measured: first / last layer 2e-14 under N(0, 0.01²), 1e-6 under Xavier (σ' <= 1/4 per
    # layer), 1.5 under N(0, 1), where weights of norm 16 per unit make up for saturated units
    config = random_config(activation='sigmoid')
    normal001, xavier, normal1 = (layer_norms(impl, config, name) for name in
                                  ('normal(0.01)', 'xavier', 'normal(1)'))
    assert normal001[0] / normal001[-1] < 1e-10
    assert xavier[0] / xavier[-1] < 1e-4
    assert (np.diff(np.log(xavier)) > 0).all()  # every layer closer to the output has more
    assert 0.1 < normal1[0] / normal1[-1] < 10


@pytest.mark.parametrize('activation', ['relu', 'sigmoid'])
@pytest.mark.parametrize('init_name', chapter.INITS)
def test_scratch_and_gluon_gradients_agree_from_the_same_weights(activation, init_name):
    config = random_config(activation=activation)
    data = chapter.load_data(config)
    for dtype, rtol in (('float32', 5e-5), ('float64', 1e-12)):
        result = chapter.parity(config, data, init_name, dtype)
        assert len(result['per_layer']) == config['num_layers'] + 1
        assert result['loss'][0] == pytest.approx(result['loss'][1], rel=rtol)
        assert result['max'] <= rtol, (dtype, result['per_layer'])


def test_parity_sees_one_weight_moved_by_1e_3():
    config = random_config()
    data = chapter.load_data(config)
    assert chapter.parity(config, data, 'xavier', 'float64', perturb=1e-3)['max'] > 1e-5


@pytest.mark.parametrize('init_name', chapter.INITS)
def test_fit_measures_both_versions_from_the_same_weights(init_name):
    # the table's scratch and Gluon columns: float32 rounding apart, as in every other chapter
    metrics = chapter.fit(random_config(num_layers=4, num_hiddens=64, num_matrices=2)).metrics
    scratch, gluon = (np.array(metrics['runs'][impl]['grad_norms'][init_name]) for impl in IMPLS)
    assert_close(gluon, scratch, rtol=5e-5, atol=0, what=init_name)
    losses = [metrics['runs'][impl]['loss'][init_name] for impl in IMPLS]
    assert losses[1] == pytest.approx(losses[0], rel=5e-5)


# ---- fit, summary and the command

def test_fit_returns_per_version_norms_without_epochs_and_a_summary_table():
    config = random_config(num_layers=3, num_hiddens=32, num_matrices=10)
    result = chapter.fit(config)
    metrics = result.metrics
    assert set(metrics['runs']) == set(IMPLS)
    assert result.trained == {impl: Trained(None, []) for impl in IMPLS}
    for run in metrics['runs'].values():
        assert run['epochs'] == []
        assert list(run['grad_norms']) == list(chapter.INITS)
        assert all(len(n) == 4 for n in run['grad_norms'].values())
        assert run['sigmoid_grad']['0'] == 0.25
    assert len(metrics['product']['norms']) == 11
    assert max(metrics['parity']['float64'].values()) < 1e-12
    lines = chapter.summary(config, metrics)
    rows = [line.split() for line in lines if line.split()[0] in ('1', '2', '3', '4')]
    assert len(rows) == 4 and all(len(r) == 7 for r in rows)
    assert float(rows[0][1]) == pytest.approx(metrics['runs']['scratch']['grad_norms']['normal(0.01)'][0],
                                              rel=1e-3)


def test_initialization_command_measures_on_fashion_mnist_and_draws(tmp_path):
    write_fashion_mnist(tmp_path / 'data', num_train=300, num_test=10)
    out = tmp_path / 'run'
    done = run_main('initialization', '--num-layers', 4, '--data-dir', tmp_path / 'data', '--out', out)
    assert done.returncode == 0, done.stderr
    assert 'normal(1) scratch' in done.stdout and 'results in' in done.stdout
    metrics = json.loads((out / 'metrics.json').read_text())
    assert metrics['finished'] and metrics['chapter'] == 'initialization'
    for impl in IMPLS:
        run = metrics['runs'][impl]
        assert run['finished'] and run['epochs'] == []
        assert all(len(n) == 5 for n in run['grad_norms'].values())
        assert (np.array(run['grad_norms']['normal(1)']) > np.array(run['grad_norms']['xavier'])).all()
    assert metrics['reference']['sigmoid_grad_at_0'] == 0.25
    assert_png(out / 'initialization.png', min_size=(200, 600))


def test_a_product_that_overflows_float32_says_where_instead_of_norm_nan(recwarn):
    config = random_config(num_layers=1, num_hiddens=8, num_matrices=2000, impl='scratch')
    metrics = chapter.fit(config).metrics
    line = [line for line in chapter.summary(config, metrics) if line.startswith('product of')][0]
    assert 'nan' not in line and 'float32 overflowed at product ' in line, line
    at = int(line.split('overflowed at product ')[1].split()[0])
    norms = metrics['product']['norms']
    assert np.isfinite(norms[at - 1]) and not np.isfinite(norms[at])
    assert 'float64: overflowed too' in line  # 2000 products pass 1e308 as well
    assert not [w for w in recwarn.list if issubclass(w.category, RuntimeWarning)], recwarn.list


def test_a_batch_larger_than_the_training_set_is_refused_naming_its_size(tmp_path, capsys):
    from d2l_gluon import cli
    write_fashion_mnist(tmp_path / 'data', num_train=300, num_test=10)
    code = cli.main(['initialization', '--batch-size', '100000', '--data-dir', str(tmp_path / 'data'),
                     '--out', str(tmp_path / 'run')])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert '--batch-size 100000: the training set holds 300 images; pass --batch-size 300 or fewer' in err
    assert not (tmp_path / 'run').exists()
