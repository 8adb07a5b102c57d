"""The course: `all` runs every chapter into one run folder, then writes summary.json and report.html.

The folder holds all.json (the seed, so --resume continues with it), a
sub-folder per chapter (each a chapter run folder) and the summary; a resumed
course keeps the chapters that finished and resumes the others.  ``run``
prints a line as each chapter starts, with the time left.
"""
import json
import os
import time

from . import report
from .chapters import chapter as find_chapter
from .config import impls
from .errors import D2LError
from .files import claim, own_files, prepare_out_dir, write_json
from .progress import Progress
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
    """Return [(name, chapter command, config)] of the chapters still to run (printing those finished earlier).

    command(argv) returns the chapter command parsed from argv and its config.
    """
    todo = []
    for name in names:
        folder = os.path.join(out, name)
        earlier = resume and os.path.exists(os.path.join(folder, 'metrics.json'))
        if earlier and read_metrics(folder).get('finished'):
            print('== %s: finished earlier, kept' % name)
            continue
        todo.append((name,) + command(
            [name] + (['--resume', folder] if earlier else
                      ['--seed', str(seed), '--out', folder] + ['--overwrite'] * bool(overwrite))))
    return todo


def _epochs(name, config):
    """Return the number of epochs a chapter config trains: of both versions, in every case."""
    return config.get('num_epochs', 0) * len(impls(config)) * find_chapter(name).cases(config)


def run(out, names, seed, resume=False, overwrite=False, *, command, train):
    """Run the chapters names into out; write summary.json and report.html; return the summary.

    command(argv): a chapter command parsed from argv and its config;
    train(command, progress): run it, ticking progress (a Progress) per epoch.
    """
    if resume:
        read_all(out)  # before anything is created: a wrong folder stays as it was
    refuse_other_runs(out, 'all')
    with FolderLock(prepare_out_dir(out)):
        seed = start_all(out, seed, names, resume, overwrite)
        todo = plan(out, names, seed, resume, overwrite, command)
        # the estimate measures each chapter's pace; epoch_seconds compares the ones not begun
        progress = Progress({name: (find_chapter(name).epoch_seconds, _epochs(name, config))
                             for name, _, config in todo})
        start = time.perf_counter()
        for name, chapter_command, _ in todo:
            progress.begin(name)
            print('== %s%s' % (name, progress.status()), flush=True)
            train(chapter_command, progress)
        summary = report.summarize(out, names)
        summary['seconds'] = time.perf_counter() - start
        write_json(os.path.join(out, 'summary.json'), summary)
        report.write_html(os.path.join(out, 'report.html'), out, summary)
    return summary
