"""Run folders of a chapter run: metrics.json, the folder rule and the folder's lock.

A run folder belongs to one run and holds only what the tool wrote:
metrics.json lists, under "files", every other file the run wrote, each
recorded before it is written.  The tool removes only files it can account
for (those the earlier run recorded, its checkpoints, and the exact names of
its own killed temporary writes) and never any other.  ``Run`` refuses a
folder that holds another run (unless asked to overwrite it) or files that no
run wrote (unless asked to write beside them, with overwrite; they are kept),
holds an exclusive lock on the folder (``FolderLock``) while the run lives,
and writes ``metrics.json`` atomically after every epoch, so the file is
always complete.  Checkpoints are checkpoints.py's; the epoch lines are
progress.py's.
"""
import fcntl
import hashlib
import json
import os
import re

from . import checkpoints
from .errors import D2LError, DivergenceError
from .files import claim, prepare_out_dir, write_json
from .params import export_gluon, load_version, save_version
from .progress import printed

MODEL_FILES = {'scratch': 'scratch.params', 'gluon': 'gluon.params', 'pytorch': 'pytorch.params'}
EXPORT_FILES = ('gluon-symbol.json', 'gluon-0000.params')  # export_gluon's files of prefix 'gluon'


def identity(chapter, config):
    """Return the hash that names a run: its chapter and settings."""
    text = json.dumps({'chapter': chapter, 'config': config}, sort_keys=True)
    return hashlib.sha1(text.encode('utf-8')).hexdigest()[:16]


def read_metrics(folder, chapter=None):
    """Return a run folder's metrics.json; raise D2LError if missing, damaged or of another chapter."""
    try:
        with open(os.path.join(folder, 'metrics.json')) as f:
            metrics = json.load(f)
        if not (isinstance(metrics, dict) and isinstance(metrics['chapter'], str)
                and isinstance(metrics['config'], dict) and isinstance(metrics['runs'], dict)
                and all(isinstance(r, dict) and isinstance(r.get('epochs'), list)
                        for r in metrics['runs'].values())):
            raise ValueError
    except (OSError, ValueError, KeyError, TypeError):
        raise D2LError('%s holds no readable metrics.json of a d2l-gluon run; pass the run folder '
                       'of an earlier command' % folder) from None
    if chapter is not None and metrics['chapter'] != chapter:
        raise D2LError('%s holds a %s run, not %s; resume it with d2l-gluon %s --resume %s'
                       % (folder, metrics['chapter'], chapter, metrics['chapter'], folder))
    return metrics


def resumed_config(folder, chapter):
    """Return (config, device names, kvstore) of the chapter run in folder, checked as new ones are."""
    from .chapters import chapter as find_chapter
    from .config import make_config
    from .distributed import KVSTORES
    earlier = read_metrics(folder, chapter)
    saved = dict(earlier['config'])
    ctx, kvstore = saved.pop('ctx', ['cpu']), saved.pop('kvstore', None)
    if not (isinstance(ctx, list) and ctx and all(isinstance(c, str) for c in ctx)) \
            or kvstore not in (None,) + KVSTORES:
        raise D2LError('%s/metrics.json has a damaged ctx or kvstore; start a fresh run' % folder)
    module = find_chapter(chapter)
    try:
        config = make_config(module.options, **saved)
    except D2LError as e:
        raise D2LError('%s/metrics.json: %s; start a fresh run' % (folder, e)) from None
    return module.complete(config), ctx, kvstore


def _kinds(folder):
    """Return the kinds of run ('chapter', 'all', 'sweep') folder holds, by their marks."""
    def has(name):
        return os.path.isfile(os.path.join(folder, name))
    # all writes a summary.json of its own: a sweep's is one without all.json beside it
    return {'chapter': has('metrics.json'), 'all': has('all.json'),
            'sweep': has('summary.json') and not has('all.json')}


def refuse_other_runs(folder, kind):
    """Raise D2LError when folder holds a run of another kind ('chapter', 'all' or 'sweep')."""
    marks = {'chapter': 'metrics.json', 'all': 'all.json', 'sweep': 'summary.json'}
    for other, held in _kinds(folder).items():
        if other != kind and held:
            raise D2LError('%s holds a %s run (%s); choose a fresh --out' % (folder, other, marks[other]))


def _holds_a_run(folder):
    return os.path.exists(os.path.join(folder, 'metrics.json'))


_WORKER = re.compile(r'worker[1-9][0-9]*$')  # the folders of launch's other workers


def _recorded(folder):
    """Return the names the run in folder recorded as written (none when metrics.json is unreadable)."""
    try:
        with open(os.path.join(folder, 'metrics.json')) as f:
            files = json.load(f).get('files', [])
    except (OSError, ValueError, AttributeError):
        return []
    # only plain names in the folder itself: a hand-edited list cannot reach elsewhere
    return [n for n in files if isinstance(n, str) and n and os.path.basename(n) == n
            and n not in ('.', '..')] if isinstance(files, list) else []


class Run:
    """The run folder of one chapter run, used as a context manager around training.

    resume continues the run already in folder; overwrite replaces it.
    checkpoints saves every version after every epoch (for resume) and its
    final parameters; every > 1 rewrites metrics.json only at epoch 1, every
    N-th and the last.  model, when given, is written as model.json: what
    ``load_model`` needs to rebuild the net.  figures: the names of the
    figures the caller will write (after ``record(*figures)``).
    """

    def __init__(self, folder, chapter, config, *, resume=False, overwrite=False,
                 checkpoints=False, every=1, model=None, figures=()):
        self.folder, self.chapter, self.config = folder, chapter, config
        self.resume, self.overwrite, self.checkpoints = resume, overwrite, checkpoints
        self.every, self.model, self.impl, self._lock = every, model, None, None
        self.identity = identity(chapter, config)
        self.metrics = {'chapter': chapter, 'config': config, 'runs': {},
                        'files': ['model.json'] if model is not None else []}
        self.writes = {'metrics.json'} | set(self.metrics['files']) | set(figures) | (
            set(MODEL_FILES.values()) | set(EXPORT_FILES) if checkpoints else set())

    def path(self, name):
        return os.path.join(self.folder, name)

    def __enter__(self):
        prepare_out_dir(self.folder)
        self._lock = FolderLock(self.folder).__enter__()
        try:
            # checked under the lock: a run still writing the folder is "another process", and
            # one that finishes meanwhile cannot be overwritten unasked
            refuse_other_runs(self.folder, 'chapter')
            if not self.resume and not self.overwrite and _holds_a_run(self.folder):
                raise D2LError('%s already holds a run; continue it with --resume %s, choose a '
                               'fresh --out, or pass --overwrite to replace it'
                               % (self.folder, self.folder))
            self._clean()
            if self.resume:
                self._read_earlier()
            self.write()  # metrics.json exists from the start, so partial results always have one
            if self.model is not None:
                write_json(self.path('model.json'), self.model)
        except BaseException:
            self._lock.__exit__()
            raise
        return self

    def __exit__(self, kind, error, traceback):
        try:
            if isinstance(error, DivergenceError):
                self.metrics['diverged'] = {'impl': error.impl or self.impl, 'epoch': error.epoch,
                                            'batch': error.batch}
                if any(run['epochs'] for run in self.metrics['runs'].values()):
                    error.folder = self.folder
            if isinstance(error, D2LError) and not isinstance(error, DivergenceError) \
                    and not self.resume and not any(r['epochs'] for r in self.metrics['runs'].values()):
                # a setting refused before the first epoch: nothing to resume, so no run is left
                for name in self.metrics['files'] + ['metrics.json']:
                    if os.path.isfile(self.path(name)):
                        os.remove(self.path(name))
            elif isinstance(error, (D2LError, KeyboardInterrupt)):
                self.write()  # every epoch recorded so far, also those not yet written
        finally:
            self._lock.__exit__()

    def _clean(self):
        """Check the folder's files; remove our temporary files, and with overwrite the earlier run's.

        Only names the earlier run recorded in its metrics.json, its
        checkpoints and the exact names of our temporary files are removed;
        any other file is kept (and refused without overwrite or resume).
        """
        names = os.listdir(self.folder)
        own = {n for n in names if _WORKER.match(n) and os.path.isdir(self.path(n))}
        if _holds_a_run(self.folder):
            own |= {'metrics.json'} | {n for n in names if checkpoints.PATTERN.match(n)}
            own |= set(_recorded(self.folder)) & set(names)
        pattern = checkpoints.PATTERN if self.checkpoints else None
        temporary = claim(self.folder, own, self.writes, self.overwrite or self.resume, pattern)
        earlier = [self.path(n) for n in sorted(own) if os.path.isfile(self.path(n))]
        for path in temporary + (earlier if self.overwrite and not self.resume else []):
            if os.path.isfile(path):
                os.remove(path)

    def _read_earlier(self):
        earlier = read_metrics(self.folder, self.chapter)
        self.metrics['files'] = sorted(set(self.metrics['files']) | set(_recorded(self.folder)))
        if self.checkpoints:  # chapters without checkpoints take seconds and run again
            self.metrics['runs'] = earlier['runs']

    def write(self):
        write_json(self.path('metrics.json'), self.metrics)

    def record(self, *names):
        """List names in metrics.json as files of this run, before they are written."""
        new = set(names) - set(self.metrics['files'])
        if new:
            self.metrics['files'] = sorted(new | set(self.metrics['files']))
            self.write()

    # ---- callbacks of fit()

    def on_epoch(self, impl, record, version):
        """Record an epoch (and checkpoint it); return whether it is one to print."""
        run = self.metrics['runs'].setdefault(impl, {'epochs': []})
        run['epochs'].append(record)
        self.impl = impl
        shown = printed(record['epoch'], self.every, self.config['num_epochs'])
        if shown:
            self.write()
        if self.checkpoints:
            # after the record: a checkpoint never gets ahead of metrics.json
            self._save_checkpoint(impl, record['epoch'], version)
        return shown

    def restore(self, impl, version):
        """Load impl's saved state into version; return the epochs it has already done."""
        self.impl = impl
        run = self.metrics['runs'].setdefault(impl, {'epochs': []})
        if not self.checkpoints:
            return []
        if run.get('finished'):
            load_version(self.path(MODEL_FILES[impl]), version, checkpoints.version_ctx(version))
            self._remove_checkpoint(impl)  # in case an interrupt came before it was removed
            return run['epochs']
        done = self._load_checkpoint(impl, version)
        if len(run['epochs']) < done:
            raise D2LError('%s records %d epochs of %s but its checkpoint is after epoch %d: the '
                           'files do not belong together; start a fresh run'
                           % (self.path('metrics.json'), len(run['epochs']), impl, done))
        run['epochs'] = run['epochs'][:done]
        return run['epochs']

    def finished(self, impl, version):
        """Mark impl finished; with checkpoints, save its final parameters (for predict and resume)."""
        run = self.metrics['runs'].setdefault(impl, {'epochs': []})
        if self.checkpoints:
            self.record(MODEL_FILES[impl], *(EXPORT_FILES if impl == 'gluon' else ()))
            save_version(self.path(MODEL_FILES[impl]), version)
            if impl == 'gluon':
                export_gluon(self.path('gluon'), version.net)
        run['finished'] = True
        self.write()
        self._remove_checkpoint(impl)

    def finish(self, metrics):
        """Merge a chapter's final metrics (runs' extras, reference, differences) and mark the run finished."""
        for impl, extra in metrics.get('runs', {}).items():
            self.metrics['runs'].setdefault(impl, {'epochs': []}).update(
                {k: v for k, v in extra.items() if k != 'epochs'})
        self.metrics.update({k: v for k, v in metrics.items() if k != 'runs'})
        self.metrics['finished'] = True
        self.write()

    # ---- checkpoints (see checkpoints.py)

    def _save_checkpoint(self, impl, epoch, version):
        checkpoints.save(self.folder, self.identity, impl, epoch, version)

    def _load_checkpoint(self, impl, version):
        return checkpoints.load(self.folder, self.identity, impl, version, self.path('metrics.json'))

    def _remove_checkpoint(self, impl):
        checkpoints.remove(self.folder, impl)


class FolderLock:
    """An exclusive lock on a folder for the life of a with-block; a second holder gets D2LError.

    The lock is flock on the folder itself, so no lock file is left behind,
    and the kernel releases it when the process dies, however it dies.
    """

    def __init__(self, folder):
        self.folder, self.fd = folder, None

    def __enter__(self):
        self.fd = os.open(self.folder, os.O_RDONLY)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self.__exit__()
            raise D2LError('another d2l-gluon process is writing to %s; wait for it to finish or '
                           'choose another --out' % self.folder) from None
        return self

    def __exit__(self, *error):
        if self.fd is not None:
            os.close(self.fd)  # closing the descriptor releases the lock
            self.fd = None
