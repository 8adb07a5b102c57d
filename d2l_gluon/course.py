"""The course: `all` runs every chapter into one run folder, then writes summary.json and report.html.

The folder holds all.json (the seed, so --resume continues with it), a
sub-folder per chapter (each a chapter run folder) and the summary; a resumed
course keeps the chapters that finished and resumes the others.  ``run``
prints a line as each chapter starts, with the time left.
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

from . import report
from .chapters import chapter as find_chapter
from .config import impls
from .errors import D2LError
from .files import claim, own_files, prepare_out_dir, write_json
from .progress import Progress, elapsed_and_left, left_in_parallel
from .runs import FolderLock, read_metrics, refuse_other_runs

ALL_FILES = ('all.json', 'summary.json', 'report.html')


def read_all(folder):
    """Return the settings of the `all` run in folder (all.json); raise D2LError if it has none."""
    try:
        with open(os.path.join(folder, 'all.json')) as f:
            settings = json.load(f)
        if not (isinstance(settings, dict) and type(settings.get('seed')) is int
                and 0 <= settings['seed'] <= 2 ** 32 - 2):
            raise ValueError
    except (OSError, ValueError):
        raise D2LError('%s is not the run folder of d2l-gluon all (no readable all.json); pass that '
                       'folder' % folder) from None
    return settings


def start_all(folder, seed, chapters, resume=False, overwrite=False):
    """Write the all.json of an `all` run in folder (or read it on resume); return the run's seed.

    all writes ALL_FILES and a sub-folder per chapter, replacing only an
    earlier all run's; any other file is refused, or kept with overwrite.
    """
    held = os.path.exists(os.path.join(folder, 'all.json'))
    if not resume and not overwrite and held:
        raise D2LError('%s already holds a run of all; continue it with --resume %s, choose a '
                       'fresh --out, or pass --overwrite to replace it' % (folder, folder))
    for path in claim(folder, own_files(folder, ALL_FILES + tuple(chapters), held), ALL_FILES,
                      overwrite or resume):
        os.remove(path)
    if resume:
        return read_all(folder)['seed']
    write_json(os.path.join(folder, 'all.json'), {'seed': seed, 'chapters': list(chapters)})
    return seed


def plan(out, names, seed, resume, overwrite, command):
    """Return [(name, argv, chapter command, config)] of the chapters still to run (printing those
    finished earlier).

    command(argv) returns the chapter command parsed from argv and its config.
    """
    todo = []
    for name in names:
        folder = os.path.join(out, name)
        earlier = resume and os.path.exists(os.path.join(folder, 'metrics.json'))
        if earlier and read_metrics(folder).get('finished'):
            print('== %s: finished earlier, kept' % name)
            continue
        argv = [name] + (['--resume', folder] if earlier else
                         ['--seed', str(seed), '--out', folder] + ['--overwrite'] * bool(overwrite))
        todo.append((name, argv) + command(argv))
    return todo


def _epochs(name, config):
    """Return the number of epochs a chapter config trains: of both versions, in every case."""
    return config.get('num_epochs', 0) * len(impls(config)) * find_chapter(name).cases(config)


def run(out, names, seed, resume=False, overwrite=False, *, command, train, processes=1):
    """Run the chapters names into out; write summary.json and report.html; return the summary.

    command(argv): a chapter command parsed from argv and its config;
    train(command, progress): run it, ticking progress (a Progress) per epoch.
    processes > 1 runs that many chapters at once, each a `d2l-gluon CHAPTER`
    process (run_parallel), instead of one after another in this process.
    """
    if resume:
        read_all(out)  # before anything is created: a wrong folder stays as it was
    refuse_other_runs(out, 'all')
    with FolderLock(prepare_out_dir(out)):
        seed = start_all(out, seed, names, resume, overwrite)
        todo = plan(out, names, seed, resume, overwrite, command)
        # the estimate measures each chapter's pace; epoch_seconds compares the ones not begun
        priors = {name: (find_chapter(name).epoch_seconds, _epochs(name, config))
                  for name, _, _, config in todo}
        start = time.perf_counter()
        if processes > 1:
            run_parallel([(name, argv) for name, argv, _, _ in todo], processes, priors)
        else:
            progress = Progress(priors)
            for name, _, chapter_command, _ in todo:
                progress.begin(name)
                print('== %s%s' % (name, progress.status()), flush=True)
                train(chapter_command, progress)
        summary = report.summarize(out, names)
        summary['seconds'] = time.perf_counter() - start
        write_json(os.path.join(out, 'summary.json'), summary)
        report.write_html(os.path.join(out, 'report.html'), out, summary)
    return summary


# ---- several chapters at once

def chapter_process(argv, stdout, stderr):
    """Start `d2l-gluon ARGV` as `all` runs a chapter (its summary into summary.txt); return the Popen.

    The chapter's Python handles Ctrl-C as a chapter command does (SIGINT is
    handled here, and exec resets a handled signal), unless this process
    ignores SIGINT.  No preexec_fn: it is not safe beside MXNet's threads.
    """
    return subprocess.Popen([sys.executable, '-m', 'd2l_gluon'] + argv + ['--summary-file'],
                            stdout=stdout, stderr=stderr)


def run_parallel(todo, processes, priors, poll=0.05):
    """Run todo's chapters [(name, argv)] in up to processes processes at once, the longest first.

    The longest by priors ({name: (seconds per epoch, epochs)}) start first, so
    that none is left to run alone at the end.  Each chapter's lines are
    printed together when it ends, under a line with the time elapsed and an
    estimate of the time left.  A chapter that fails stops the others and
    raises D2LError with its message and exit code; Ctrl-C stops them all at a
    batch boundary, so that --resume continues each one.
    """
    queue = sorted(todo, key=lambda task: -priors[task[0]][0] * priors[task[0]][1])  # stable
    running, ended, start = {}, {}, time.perf_counter()
    try:
        while queue or running:
            while queue and len(running) < processes:
                name, argv = queue.pop(0)
                out, err = tempfile.TemporaryFile('w+'), tempfile.TemporaryFile('w+')
                running[chapter_process(argv, out, err)] = (name, out, err, time.perf_counter())
            done = [p for p in running if p.poll() is not None]
            if not done:
                time.sleep(poll)
            for process in done:
                name, out, err, began = running.pop(process)
                ended[name] = time.perf_counter() - began
                now = time.perf_counter()
                left = left_in_parallel(priors, ended, {n: t for n, _, _, t in running.values()},
                                        processes, now)
                _report_chapter(name, process.returncode, out, err, elapsed_and_left(now - start, left))
    finally:
        _stop(running)


def _report_chapter(name, code, out, err, status):
    """Print a chapter's header with status and its lines; raise as its command did when it failed."""
    with out, err:
        out.seek(0), err.seek(0)
        printed, lines = out.read(), err.read().strip().splitlines()
    print('== %s  [%s]' % (name, status))
    print(printed, end='', flush=True)
    if lines and not code:  # what a chapter that ended well said on stderr (a warning) is passed on
        print('\n'.join(lines), file=sys.stderr, flush=True)
    if code == 130:
        raise KeyboardInterrupt
    if code:
        why = lines[-1] if lines else 'exit code %d' % code
        prefix = 'd2l-gluon %s: error: ' % name  # the chapter command's own one-line error
        error = D2LError('%s: %s' % (name, why[len(prefix):] if why.startswith(prefix) else why))
        error.exit_code = code
        raise error


def _stop(running, grace=2.0, patience=30.0):
    """Stop the chapter processes still running: Ctrl-C (after grace seconds, in case a terminal's
    reached them already), then SIGKILL after patience seconds (one that ignores Ctrl-C); wait for
    every one."""
    deadline = time.monotonic() + grace
    for process in running:
        try:
            process.wait(max(deadline - time.monotonic(), 0.0))
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGINT)
    for process, (_, out, err, _) in running.items():
        try:
            process.wait(patience)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        out.close(), err.close()
