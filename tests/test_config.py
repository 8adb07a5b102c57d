"""Chapter settings: the kinds, parsing of command-line text, and make_config (with hypothesis)."""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from d2l_gluon import D2LError
from d2l_gluon.chapters import MODULES as CHAPTERS
from d2l_gluon.chapters import chapter as chapter_module
from d2l_gluon.config import (COMMON, FLOAT32_MAX, KINDS, Option, check, impls,
                              make_config, parse, step_batch)

KIND_NAMES = sorted(KINDS)
CHOICES = ('relu', 'sigmoid', 'tanh')


@settings(max_examples=300, deadline=None)
@given(kind=st.sampled_from(KIND_NAMES + [CHOICES]), text=st.text(max_size=30))
def test_parse_returns_a_checked_value_or_raises_value_error(kind, text):
    try:
        value = parse(kind, text)
    except ValueError as e:
        assert str(e)  # a message naming what the value must be
        return
    assert check(kind, value) == value  # whatever parse accepts, check accepts too


@settings(max_examples=200, deadline=None)
@given(n=st.integers(min_value=-10 ** 12, max_value=10 ** 12))
def test_counts_are_positive_integers(n):
    if n > 0:
        assert parse('count', str(n)) == n
    else:
        with pytest.raises(ValueError, match='positive integer'):
            parse('count', str(n))


@settings(max_examples=200, deadline=None)
@given(x=st.floats(allow_nan=True, allow_infinity=True))
def test_positive_numbers_are_finite_float32_and_above_zero(x):
    # a float32 below the smallest normal one is 0 or subnormal: a learning rate of it trains nothing
    ok = math.isfinite(x) and np.finfo(np.float32).tiny <= np.float32(x) and x <= FLOAT32_MAX
    if ok:
        assert parse('positive', repr(x)) == x
    else:
        with pytest.raises(ValueError):
            parse('positive', repr(x))


@settings(max_examples=200, deadline=None)
@given(values=st.lists(st.floats(min_value=-1e6, max_value=1e6), min_size=1, max_size=6))
def test_number_lists_round_trip(values):
    assert parse('numbers', ','.join(repr(v) for v in values)) == values


@pytest.mark.parametrize('kind, text', [
    ('numbers', '1,,2'), ('numbers', ''), ('numbers', '1e300'), ('number', 'nan'),
    ('nonnegative', '-0.5'), ('seed', '-1'), ('seed', str(2 ** 32 - 1)), ('units', '100000000'),
    ('probability', '1'), ('flag', 'maybe'), (CHOICES, 'softplus'),
    ('positive', '1e-50'), ('positive', '1e-40'), ('positive', '1.1e-38'),
])
def test_values_a_float32_net_cannot_take_are_refused(kind, text):
    with pytest.raises(ValueError):
        parse(kind, text)


def test_make_config_fills_the_defaults_and_checks_changes():
    options = {'lr': Option(0.1, 'positive', 'learning rate'),
               'activation': Option('relu', CHOICES, 'activation')}
    config = make_config(options, lr=0.5)
    assert config == {'impl': 'both', 'seed': 0, 'step_divisor': 'batch-size', 'lr': 0.5,
                      'activation': 'relu'}
    with pytest.raises(D2LError, match='--lr'):
        make_config(options, lr=-1.0)
    with pytest.raises(D2LError, match='unknown setting lrr'):
        make_config(options, lrr=0.5)
    with pytest.raises(D2LError, match='--num-epochs'):
        make_config(dict(options, num_epochs=Option(5, 'count', 'epochs')), num_epochs='5')


@settings(max_examples=100, deadline=None)
@given(changes=st.dictionaries(st.sampled_from(['lr', 'num_epochs', 'batch_size', 'impl', 'seed']),
                               st.one_of(st.integers(-5, 10 ** 10), st.floats(), st.text(max_size=5),
                                         st.none(), st.lists(st.integers(), max_size=3))))
def test_make_config_gives_a_config_or_one_d2l_error(changes):
    from d2l_gluon.chapters import softmax_regression
    try:
        config = make_config(softmax_regression.OPTIONS, **changes)
    except D2LError:
        return
    assert config['num_epochs'] > 0 and config['batch_size'] > 0 and config['lr'] > 0
    assert config['impl'] == 'both' or set(impls(config)) == set(config['impl'].split(','))


def test_every_chapter_declares_a_valid_default_for_every_option():
    for name in CHAPTERS:
        chapter = chapter_module(name)
        config = make_config(chapter.options)
        for key, option in chapter.options.items():
            assert option.help, (name, key)
            if option.default is not None:
                assert check(option.kind, option.default) == config[key], (name, key)


def test_step_batch_follows_the_step_divisor():
    config = {'batch_size': 256}
    assert [step_batch(dict(config, step_divisor=d)) for d in ('batch-size', 'actual', 'none')] \
        == [256, None, 1]


def test_float32_max_is_numpys():
    assert FLOAT32_MAX == float(np.finfo(np.float32).max)


@pytest.mark.parametrize('text', ['1e-50', '1e-45', '1e-40', '1.17e-38'])
def test_a_positive_value_float32_rounds_to_zero_or_subnormal_is_refused_with_its_range(text):
    with pytest.raises(ValueError, match='positive float32 number from 1.2e-38'):
        parse('positive', text)
    assert parse('positive', '1.2e-38') == 1.2e-38
