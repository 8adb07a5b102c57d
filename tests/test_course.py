"""`all --processes N`: several chapters at once, each a `d2l-gluon CHAPTER` process of its own."""
import json
import os
import signal
import subprocess
import sys
import threading

import pytest

from d2l_gluon import cli, course
from d2l_gluon.progress import left_in_parallel

from .helpers import one_line, run_main

CHEAP = ('linreg', 'logreg')  # seconds each: the chapters these tests run for real


def runs(out, chapter):
    """Return a chapter's epoch records without their timings, as metrics.json holds them."""
    with open(os.path.join(str(out), chapter, 'metrics.json')) as f:
        metrics = json.load(f)
    return {impl: [{k: v for k, v in record.items() if 'seconds' not in k} for record in run['epochs']]
            for impl, run in metrics['runs'].items()}, metrics.get('reference')


def blocks(stdout):
    """Return {chapter: its printed lines} from the '== CHAPTER' headers of all's output."""
    found, name = {}, None
    for line in stdout.splitlines():
        if line.startswith('== '):
            name = line.split()[1]
            assert name not in found, 'one block a chapter: %s' % stdout
            found[name] = []
        elif name and line.strip():
            found[name].append(line)
        if line.startswith('results in'):
            name = None
    return found


@pytest.mark.slow  # every chapter run twice, half of it in processes of their own
def test_two_processes_write_the_numbers_and_files_of_one(tmp_path, monkeypatch):
    monkeypatch.setattr(cli, 'CHAPTERS', CHEAP)
    one, two = tmp_path / 'one', tmp_path / 'two'
    assert run_main('all', '--out', one).returncode == 0
    done = run_main('all', '--processes', 2, '--out', two)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ''
    for chapter in CHEAP:
        assert runs(two, chapter) == runs(one, chapter)
        assert sorted(os.listdir(str(two / chapter))) == sorted(os.listdir(str(one / chapter)))
    printed = blocks(done.stdout)
    assert set(printed) == set(CHEAP)
    for chapter, lines in printed.items():  # each chapter's lines together, its own and all of them
        assert lines[-1] == 'results in %s (summary.txt)' % (two / chapter), lines
        assert all(str(two / chapter) in line for line in lines if 'results in' in line)
    assert 'elapsed, about' in done.stdout and 'all results in %s' % two in done.stdout
    assert (two / 'summary.json').exists() and (two / 'report.html').exists()


FAILING = "import sys; print('d2l-gluon logreg: error: the data broke; mend it', file=sys.stderr); sys.exit(2)"


def test_a_failing_chapter_stops_the_others_and_all_says_which_in_one_line(tmp_path, monkeypatch):
    started = {}

    def chapter_process(argv, stdout, stderr):
        # logreg fails at once; linreg would run for minutes, and stops at Ctrl-C as a chapter does
        code = FAILING if argv[0] == 'logreg' else SLOW
        started[argv[0]] = subprocess.Popen([sys.executable, '-c', code], stdout=stdout, stderr=stderr)
        return started[argv[0]]
    monkeypatch.setattr(course, 'chapter_process', chapter_process)
    monkeypatch.setattr(cli, 'CHAPTERS', ('linreg', 'logreg'))
    done = run_main('all', '--processes', 2, '--out', tmp_path / 'all')
    assert done.returncode == 2
    assert one_line(done.stderr) == 'd2l-gluon all: error: logreg: the data broke; mend it'
    assert sorted(started) == ['linreg', 'logreg']
    assert started['linreg'].returncode == 130, 'linreg was stopped by Ctrl-C, and waited for'


SLOW = '''
import signal, sys, time
def stop(*_):
    print('stopped at Ctrl-C', flush=True)
    sys.exit(130)
signal.signal(signal.SIGINT, stop)
time.sleep(120)
'''


def test_ctrl_c_stops_every_chapter_process_and_waits_for_them(monkeypatch):
    processes = []

    def chapter_process(argv, stdout, stderr):
        processes.append(subprocess.Popen([sys.executable, '-c', SLOW], stdout=stdout, stderr=stderr))
        return processes[-1]
    monkeypatch.setattr(course, 'chapter_process', chapter_process)
    # Ctrl-C reaches this process alone (as `kill -INT`): the chapters hear it from run_parallel
    timer = threading.Timer(1.5, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            course.run_parallel([('linreg', ['linreg']), ('logreg', ['logreg']),
                                 ('mlp', ['mlp'])], 2, {'linreg': (1, 1), 'logreg': (1, 1), 'mlp': (2, 1)})
    finally:
        timer.cancel()
    assert len(processes) == 2, 'the third chapter never starts'
    assert [p.returncode for p in processes] == [130, 130]  # each stopped by Ctrl-C and reaped


def test_the_longest_chapter_starts_first(monkeypatch):
    started = []

    def chapter_process(argv, stdout, stderr):
        started.append(argv[0])
        return subprocess.Popen([sys.executable, '-c', 'pass'], stdout=stdout, stderr=stderr)
    monkeypatch.setattr(course, 'chapter_process', chapter_process)
    priors = {'a': (1.0, 2), 'b': (3.0, 10), 'c': (0.5, 4)}  # 2, 30 and 2 seconds
    course.run_parallel([(name, [name]) for name in priors], 2, priors)
    assert started == ['b', 'a', 'c']  # a and c take as long: in the order given


def test_the_time_left_is_the_rest_at_the_pace_measured_shared_among_the_processes():
    priors = {'a': (1.0, 2), 'b': (3.0, 10), 'c': (0.5, 4)}  # 2, 30 and 2 seconds
    assert left_in_parallel(priors, {}, {}, 2, now=0.0) == pytest.approx(17.0)
    # 'b' ended in 15 s, half its prior: the others are taken as fast, 1 s each, over 2 processes
    assert left_in_parallel(priors, {'b': 15.0}, {}, 2, now=0.0) == pytest.approx(1.0)
