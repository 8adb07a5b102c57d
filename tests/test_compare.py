"""compare (d2l_gluon.compare and `d2l-gluon compare`): scratch against Gluon from one start, per chapter."""
import re

import numpy as np
import pytest

from d2l_gluon import compare as comparison
from d2l_gluon.chapters import chapter as chapter_module
from d2l_gluon.config import make_config

from .helpers import one_line, run_main, write_fashion_mnist

COMPARE_RUNS = {'linreg': ['--num-epochs', 2], 'softmax': ['--num-epochs', 1],
                'logreg': ['--num-epochs', 5]}
SUMMARY_LINE = re.compile(r'largest relative difference: loss (\S+), parameters (\S+) \(tolerance (\S+)\)')
MODULES = {'linreg': 'linear_regression', 'softmax': 'softmax_regression', 'mlp': 'mlp',
           'logreg': 'logistic_regression'}


def parse_compare(stdout):
    """Return (column titles, rows of numbers per epoch, (loss diff, param diff, tolerance))."""
    lines = stdout.splitlines()
    header = next(line for line in lines if line.startswith('epoch'))
    titles = re.findall(r'(?:scratch|gluon) \w+|rel diff', header)
    rows = [[float(x) for x in line.split()] for line in lines if re.match(r'^\d+\s', line)]
    summary = [float(x) for x in SUMMARY_LINE.search(stdout).groups()]
    return titles, rows, summary


def slow_if_real_data(chapters):
    return [pytest.param(c, marks=pytest.mark.slow) if c in ('softmax', 'mlp') else c for c in chapters]


@pytest.mark.parametrize('chapter', slow_if_real_data(COMPARE_RUNS))
def test_compare_prints_both_versions_side_by_side_and_exits_0_when_they_agree(chapter):
    result = run_main('compare', chapter, *COMPARE_RUNS[chapter])
    assert result.returncode == 0, result.stdout + result.stderr
    titles, rows, (loss_diff, param_diff, tolerance) = parse_compare(result.stdout)
    assert titles[:3] == ['scratch loss', 'gluon loss', 'rel diff']
    assert len(titles) % 3 == 0 and all(t == 'rel diff' for t in titles[2::3])
    num_epochs = COMPARE_RUNS[chapter][1]
    assert [int(row[0]) for row in rows] == list(range(1, num_epochs + 1))
    assert all(len(row) == 1 + len(titles) for row in rows)
    for row in rows:
        for s, g, diff in zip(row[1::3], row[2::3], row[3::3]):
            assert np.isfinite(s) and diff <= tolerance
            assert abs(s - g) <= tolerance * abs(g) + 1e-6  # printed with 6 decimals
        assert row[1] > 0
    # the summary's loss difference is the largest of the loss column (printed to 2 and 3 digits)
    assert abs(max(row[3] for row in rows) - loss_diff) <= 0.051 * loss_diff
    assert max(loss_diff, param_diff) <= tolerance == chapter_module(chapter).compare.tolerance
    assert 'agree' in result.stdout and result.stderr == ''


@pytest.mark.parametrize('chapter', slow_if_real_data(COMPARE_RUNS))
def test_compare_fails_when_one_side_is_perturbed(chapter):
    result = run_main('compare', chapter, *COMPARE_RUNS[chapter], '--perturb', '1e-2')
    assert result.returncode == 1, result.stdout + result.stderr
    line = one_line(result.stderr)
    assert 'differ' in line and line.startswith('d2l-gluon compare: error:')
    _, rows, (loss_diff, param_diff, tolerance) = parse_compare(result.stdout)
    assert max(loss_diff, param_diff) > tolerance
    assert len(rows) == COMPARE_RUNS[chapter][1]
    if chapter != 'softmax':
        # the perturbed weight multiplies a feature that is never zero: the losses show it at once
        assert rows[0][3] > tolerance


@pytest.mark.slow
def test_compare_mlp_agrees_without_perturbation():
    result = run_main('compare', 'mlp', '--num-epochs', 1)
    assert SUMMARY_LINE.search(result.stdout) and 'Traceback' not in result.stderr, \
        'precondition: compare mlp trained both versions: ' + result.stderr
    assert result.returncode == 0, result.stdout + result.stderr


# ---- compare() in process, on a small fake Fashion-MNIST for the classifiers

@pytest.fixture(scope='module')
def fake_data(tmp_path_factory):
    folder = tmp_path_factory.mktemp('fake-fashion-mnist')
    write_fashion_mnist(folder, num_train=600, num_test=100)
    return str(folder)


def config_of(chapter, fake_data, **changes):
    module = chapter_module(chapter)
    if 'data_dir' in module.options:
        changes['data_dir'] = fake_data
    return module, make_config(module.options, **dict(module.compare.changes, num_epochs=2,
                                                      **changes))


@pytest.mark.parametrize('chapter', list(MODULES))
def test_compare_finds_every_chapters_versions_equal_within_its_tolerance(fake_data, chapter):
    module, config = config_of(chapter, fake_data)
    result = comparison.compare(module, config)
    assert result.tolerance == module.compare.tolerance and result.dtype == module.compare.dtype
    assert [pair.names for pair in result.pairs] == [('scratch', 'gluon')]
    pair = result.pairs[0]
    assert [epoch for epoch, _ in pair.epochs] == [1, 2]
    assert max(result.loss_diff, result.param_diff) <= result.tolerance and result.agree
    assert result.loss_diff == pair.loss_diff == max(row['loss'][2] for _, row in pair.epochs)
    first_loss = pair.epochs[0][1]['loss'][1]
    for _, row in pair.epochs:
        for key, (scratch, gluon, difference) in row.items():
            # the loss is judged against its size after epoch 1 (float32 rounding near the floor)
            scale = first_loss if key == 'loss' else 0
            assert difference == comparison.relative_difference(scratch, gluon, scale)
            assert difference <= comparison.relative_difference(scratch, gluon)


def test_a_loss_at_the_noise_floor_is_judged_against_its_size_after_epoch_1():
    # linreg at seeds 3, 5, 8, 11, 12 ends with identical parameters but a float32 loss of 5e-5
    # whose own rounding is 1e-5 of it; measured against epoch 1's loss it agrees
    assert comparison.relative_difference(5.0e-5 + 1e-9, 5.0e-5) == pytest.approx(2e-5)
    assert comparison.relative_difference(5.0e-5 + 1e-9, 5.0e-5, 0.04) == pytest.approx(2.5e-8)
    assert comparison.relative_difference(0.05, 0.04, 0.001) == pytest.approx(0.25)


@pytest.mark.parametrize('chapter', list(MODULES))
def test_compare_sees_a_perturbed_start_in_every_chapter(fake_data, chapter):
    module, config = config_of(chapter, fake_data)
    result = comparison.compare(module, config, perturb=1e-2)
    assert not result.agree
    assert result.diverged is not None or max(result.loss_diff, result.param_diff) > result.tolerance


def test_relative_difference_is_max_abs_difference_over_max_abs_reference():
    assert comparison.relative_difference([1.0, 2.0], [1.0, 4.0]) == 0.5
    assert comparison.relative_difference(3.0, -2.0) == 2.5
    assert comparison.relative_difference(1e-20, 0.0) == 1e-20 / 1e-12  # a zero reference is 1e-12
