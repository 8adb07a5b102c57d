"""Sweeps: every combination of values and seeds, diverged runs marked, the same numbers in parallel."""
import math

import pytest

from d2l_gluon import D2LError
from d2l_gluon.chapters import linear_regression
from d2l_gluon.sweep import final, grid, run_one, sweep, sweepable, table


def test_only_numeric_options_can_be_swept():
    assert {'lr', 'batch_size', 'num_epochs', 'noise'} <= set(sweepable(linear_regression.CHAPTER))
    assert 'true_w' not in sweepable(linear_regression.CHAPTER)
    with pytest.raises(D2LError, match='cannot sweep --true-w; the numeric options of this chapter are --batch-size, '):
        grid(linear_regression.CHAPTER, {}, {'true_w': [[1.0, 2.0]]}, [0])


def test_grid_has_one_checked_config_per_combination_and_seed():
    configs = grid(linear_regression.CHAPTER, {'num_epochs': 1}, {'lr': [0.01, 0.1], 'batch_size': [5, 10]},
                   [0, 1, 2])
    assert len(configs) == 12
    assert {(c['lr'], c['batch_size'], c['seed']) for c in configs} == {
        (lr, b, s) for lr in (0.01, 0.1) for b in (5, 10) for s in (0, 1, 2)}
    assert all(c['num_epochs'] == 1 for c in configs)
    with pytest.raises(D2LError, match='--lr'):
        grid(linear_regression.CHAPTER, {}, {'lr': [-1.0]}, [0])


@pytest.mark.parametrize('values, seeds, message', [
    ({'lr': [0.1, 0.1]}, [0], '--lr 0.1,0.1 repeats 0.1'),
    ({'lr': [0.1, 0.3, 0.30000000001]}, [0], 'repeats 0.3'),  # one float32: the same run twice
    ({'batch_size': [5, 10, 5]}, [0], '--batch-size 5,10,5 repeats 5'),
    ({'lr': [0.1, 0.2]}, [1, 2, 1], '--seeds 1,2,1 repeats 1'),
])
def test_a_repeated_value_or_seed_is_refused_not_counted_as_another_run(values, seeds, message):
    with pytest.raises(D2LError, match=message.replace('.', r'\.')) as refused:
        grid(linear_regression.CHAPTER, {}, values, seeds)
    assert 'distinct' in str(refused.value)


def test_a_diverging_value_is_marked_and_the_sweep_goes_on():
    configs = grid(linear_regression.CHAPTER, {'num_epochs': 2}, {'lr': [0.03, 3.0]}, [0, 1])
    results = sweep('linreg', configs)
    assert [r['config']['lr'] for r in results] == [0.03, 0.03, 3.0, 3.0]
    for r in results[:2]:
        assert r['diverged'] == {} and len(r['runs']['scratch']) == len(r['runs']['gluon']) == 2
    for r in results[2:]:
        assert set(r['diverged']) == {'scratch', 'gluon'}  # each version ran and diverged
        assert math.isnan(final(r, 'gluon', 'loss'))
    rows = table(results, ['lr'])
    assert [(row['values']['lr'], row['impl'], row['diverged']) for row in rows] == [
        (0.03, 'scratch', 0), (0.03, 'gluon', 0), (3.0, 'scratch', 2), (3.0, 'gluon', 2)]
    ok = rows[0]['loss']
    losses = [final(r, 'scratch', 'loss') for r in results[:2]]
    assert ok['mean'] == pytest.approx(sum(losses) / 2) and ok['std'] > 0  # two seeds differ
    assert 'loss' not in rows[2]


def test_parallel_workers_give_the_numbers_of_one_process():
    configs = grid(linear_regression.CHAPTER, {'num_epochs': 1, 'impl': 'gluon'}, {'lr': [0.01, 0.03]}, [0, 1])
    order = []
    parallel = sweep('linreg', configs, processes=2, on_done=lambda i, r, n, total: order.append(i))
    assert sorted(order) == [0, 1, 2, 3]
    for config, result in zip(configs, parallel):
        assert _without_timings(result['runs']) == _without_timings(run_one('linreg', config)['runs'])


def _without_timings(runs):
    return {impl: [{k: v for k, v in e.items() if 'seconds' not in k} for e in epochs]
            for impl, epochs in runs.items()}


def test_the_sweep_command_prints_a_table_and_writes_summary_and_figure(tmp_path):
    import json

    from .helpers import assert_png, run_main
    out = tmp_path / 'sweep'
    result = run_main('sweep', 'linreg', '--lr', '0.03,3', '--num-epochs', 2, '--seeds', '0,1',
                     '--processes', 1, '--out', out)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert sum(line.startswith('[') and 'elapsed' in line for line in lines) == 4
    assert any(line.startswith('lr=3 ') and 'diverged' in line and '2/2' in line for line in lines)
    summary = json.loads((out / 'summary.json').read_text())
    assert summary['values'] == {'lr': [0.03, 3.0]} and summary['seeds'] == [0, 1]
    assert [(row['values']['lr'], row['impl'], row['diverged']) for row in summary['table']] == [
        (0.03, 'scratch', 0), (0.03, 'gluon', 0), (3.0, 'scratch', 2), (3.0, 'gluon', 2)]
    assert_png(out / 'sweep.png')
    again = run_main('sweep', 'linreg', '--lr', '0.03,0.1', '--out', out)
    assert again.returncode == 2 and 'already holds a sweep' in again.stderr


@pytest.mark.parametrize('tokens, message', [
    ([], 'name the values to sweep'),
    (['--lr'], "--lr: '--out' is not a positive"),
    (['--lrr', '0.1,0.2'], 'give --OPTION VALUES pairs'),
    (['--lr', '0.1,-1'], '--lr'),
    (['--true-w', '1,2'], 'name the values to sweep'),
    (['--lr', '0.1,0.2', '--seeds', '0,-1'], '--seeds'),
    (['--lr', '0.1,0.1'], '--lr 0.1,0.1 repeats 0.1'),
    (['--lr', '0.1,0.2', '--seeds', '0,1,0'], '--seeds 0,1,0 repeats 0'),
    (['--values', '1,2'], "'--values': give --OPTION VALUES pairs"),  # the plan's own keys
    (['--fixed', '3'], "'--fixed': give --OPTION VALUES pairs"),
])
def test_bad_sweep_settings_are_one_line(tokens, message, tmp_path):
    from .helpers import one_line, run_main
    result = run_main('sweep', 'linreg', *tokens, '--out', tmp_path / 'sweep')
    assert result.returncode == 2
    assert message in one_line(result.stderr)
    assert not (tmp_path / 'sweep').exists()



@pytest.mark.parametrize('chapter, tokens, fixed, values', [
    ('logreg', ['--data', 'blobs', '--mean0', '-1,-1', '--std', '0.5,2'],
     {'data': 'blobs', 'mean0': [-1.0, -1.0]}, {'std': [0.5, 2.0]}),
    ('logreg', ['--data=blobs', '--mean0=-1,-1', '--std=0.5,2'],
     {'data': 'blobs', 'mean0': [-1.0, -1.0]}, {'std': [0.5, 2.0]}),
    ('linreg', ['--true-w', '-3.4,2', '--true-b', '-1e-05,1'],
     {'true_w': [-3.4, 2.0]}, {'true_b': [-1e-05, 1.0]}),
    ('linreg', ['--true-w=-3.4,2', '--true-b=-1e-05,1', '--seeds=0,1'],
     {'true_w': [-3.4, 2.0]}, {'true_b': [-1e-05, 1.0]}),
])
def test_sweep_settings_take_negative_values_in_either_form(chapter, tokens, fixed, values):
    from d2l_gluon import cli
    from d2l_gluon.chapters import chapter as chapter_module
    from d2l_gluon.arguments import sweep_plan as plan
    args = cli.build_parser().parse_args(['sweep', chapter] + tokens)
    settings = plan(chapter_module(chapter), args.settings)
    assert (settings['fixed'], settings['values']) == (fixed, values)
    assert settings['seeds'] == ([0, 1] if '--seeds=0,1' in tokens else [0])


@pytest.mark.slow  # several processes or many runs: seconds the fast tier skips; CI runs it
def test_ctrl_c_stops_the_workers_at_once_and_keeps_the_finished_runs(tmp_path):
    import json
    import os
    import signal
    import subprocess
    import sys
    import time

    from .helpers import one_line
    out = tmp_path / 'sweep'
    lrs = ','.join(str(0.01 * k) for k in range(1, 11))
    # a session of its own: SIGINT to the process group, as a terminal's Ctrl-C reaches the workers too
    proc = subprocess.Popen([sys.executable, '-m', 'd2l_gluon', 'sweep', 'linreg', '--lr', lrs,
                             '--seeds', '0,1,2', '--processes', '2', '--out', str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        first = proc.stdout.readline()
        assert first.startswith('[1/30] '), first + proc.stderr.read()
        os.killpg(proc.pid, signal.SIGINT)
        start = time.monotonic()
        # read, not communicate: that reads the pipe itself and misses what readline buffered
        stdout, stderr = proc.stdout.read(), proc.stderr.read()
        proc.wait(timeout=30)
        seconds = time.monotonic() - start
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert seconds < 5, 'Ctrl-C took %.1f s' % seconds
    assert proc.returncode == 130, (proc.returncode, stderr)
    assert one_line(stderr) == 'interrupted; partial results are in %s' % out
    # no worker outlives the sweep (a zombie has ended; this container's init may reap it late)
    group = subprocess.run(['ps', '-o', 'stat=,pid=,args=', '-g', str(proc.pid)],
                           capture_output=True, text=True).stdout.splitlines()
    assert [line for line in group if not line.lstrip().startswith('Z')] == [], group
    printed = [line for line in (first + stdout).splitlines() if line.startswith('[')]
    summary = json.loads((out / 'summary.json').read_text())
    assert summary['interrupted'] is True
    assert 1 <= len(summary['runs']) == len(printed) < 30
    assert sum(row['runs'] for row in summary['table']) == 2 * len(printed)  # scratch and gluon
    assert (out / 'sweep.png').exists()


def _plan(chapter_name, *tokens):
    """Return the sweep's settings as the command line reads them from tokens."""
    from d2l_gluon import cli
    from d2l_gluon.arguments import sweep_plan
    from d2l_gluon.chapters import chapter as chapter_module
    args = cli.build_parser().parse_args(['sweep', chapter_name] + list(tokens))
    return sweep_plan(chapter_module(chapter_name), args.settings)


def test_a_sweep_of_seeds_alone_trains_one_setting_once_per_seed():
    settings = _plan('linreg', '--seeds', '0,1,2', '--num-epochs', '1')
    assert (settings['values'], settings['fixed'], settings['seeds']) == ({}, {'num_epochs': 1}, [0, 1, 2])
    configs = grid(linear_regression.CHAPTER, settings['fixed'], settings['values'], settings['seeds'])
    assert [c['seed'] for c in configs] == [0, 1, 2]


def test_a_sweep_of_nothing_names_both_ways_to_sweep():
    with pytest.raises(D2LError, match='--lr 0.01,0.03,0.1.*several --seeds'):
        _plan('linreg', '--num-epochs', '1')


def test_the_equals_form_gives_the_values_of_the_spaced_form():
    assert _plan('linreg', '--lr=0.1,0.2') == _plan('linreg', '--lr', '0.1,0.2')


@pytest.mark.parametrize('tokens', [['--full-batch', '--lr', '0.1,0.2'], ['--lr', '0.1,0.2', '--full-batch']])
def test_a_flag_needs_no_value(tokens):
    settings = _plan('linreg', *tokens)
    assert (settings['fixed'], settings['values']) == ({'full_batch': True}, {'lr': [0.1, 0.2]})


def test_an_unknown_option_is_named_with_the_options_as_the_command_line_spells_them():
    with pytest.raises(D2LError) as refused:
        _plan('linreg', '--lrr', '0.1,0.2')
    message = str(refused.value)
    assert '--batch-size' in message and '--full-batch' in message and '--seeds' in message
    assert 'batch_size' not in message
    assert '--seed,' not in message and '--seed ' not in message and not message.endswith('--seed')


def test_sweep_help_shows_the_chapters_options_and_the_sweeps_own(capsys):
    from d2l_gluon import cli
    assert cli.main(['sweep', 'linreg', '--help']) == 0
    shown = capsys.readouterr().out
    for option in ('--lr', '--num-epochs', '--full-batch', '--seeds', '--processes', '--out'):
        assert option in shown
    assert 'usage: d2l-gluon sweep linreg' in shown
    assert '--resume' not in shown  # a sweep is not resumed
