"""Run folders: metrics.json, checkpoints, resume, saved models and progress lines.

A run folder belongs to one run and holds only what the tool wrote:
metrics.json lists, under "files", every other file the run wrote, each
recorded before it is written.  The tool removes only files it can account
for (those the earlier run recorded, its checkpoints, and the exact names of
its own killed temporary writes) and never any other.  ``Run`` refuses a
folder that holds another run (unless asked to overwrite it) or files that no
run wrote (unless asked to write beside them, with overwrite; they are kept),
holds an exclusive lock on the folder while the run lives, and writes
``metrics.json`` atomically after every epoch, so the file is always
complete.  Every checkpoint carries the run's identity (chapter and a hash
of its settings), and a resumed run refuses a checkpoint that is not its own.
"""
import fcntl
import hashlib
import json
import os
import re
import time

import numpy as np

from .errors import D2LError, DivergenceError
from .files import prepare_out_dir, write_json
from .params import export_gluon, load_version, save_version

MODEL_FILES = {'scratch': 'scratch.params', 'gluon': 'gluon.params'}
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


# the exact names of the files a killed write leaves: atomic_write's '.<name>.' and prepare_out_dir's
# '.probe-', each followed by mkstemp's 8 characters, and export_gluon's '.tmp-<name>'
_TEMPORARY = re.compile(r'\.(?:probe-|(?P<name>.+)\.)[a-z0-9_]{8}$')
_CHECKPOINT = re.compile(r'checkpoint-(?:scratch|gluon)(?:\.json|-epoch[1-9][0-9]*\.params)$')
_WORKER = re.compile(r'worker[1-9][0-9]*$')  # the folders of launch's other workers


def _temporary(name, writes, pattern=None):
    """Return whether name is a temporary file of ours: of the probe, or of a file named in writes."""
    match = _TEMPORARY.match(name)
    if match and match.group('name') is None:
        return True
    base = name[len('.tmp-'):] if name.startswith('.tmp-') else match and match.group('name')
    return bool(base) and (base in writes or bool(pattern and pattern.match(base)))


def _listing(names, limit=5):
    shown = ', '.join(names[:limit])
    return shown + (' and %d more' % (len(names) - limit) if len(names) > limit else '')


def claim(folder, own, writes, overwrite, pattern=None):
    """Check that a run may write the files writes into folder; return the temporary files to remove.

    own: the names in folder the tool wrote (an earlier run's).  Any other
    name, except temporary files of ours, is foreign: without overwrite it
    is refused; with overwrite the run writes beside it and keeps it, but
    refuses when it would have to replace it (a name in writes or matching
    pattern).
    """
    names = os.listdir(folder)
    temporary = sorted(n for n in names if n not in own and _temporary(n, set(writes) | set(own), pattern))
    foreign = sorted(set(names) - set(own) - set(temporary))
    if foreign and not overwrite:
        raise D2LError('%s holds files that no d2l-gluon run wrote (%s); choose a fresh --out, or '
                       'pass --overwrite to write beside them (they are kept)' % (folder, _listing(foreign)))
    replaced = [n for n in foreign if n in writes or (pattern and pattern.match(n))]
    if replaced:
        raise D2LError('%s holds %s, which this run would replace but did not write; move %s away or '
                       'choose another --out' % (folder, _listing(replaced),
                                                 'it' if len(replaced) == 1 else 'them'))
    return [os.path.join(folder, n) for n in temporary]


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
            own |= {'metrics.json'} | {n for n in names if _CHECKPOINT.match(n)}
            own |= set(_recorded(self.folder)) & set(names)
        pattern = _CHECKPOINT if self.checkpoints else None
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
        epoch, last = record['epoch'], self.config['num_epochs']
        shown = self.every == 1 or epoch == 1 or epoch % self.every == 0 or epoch == last
        if shown:
            self.write()
        if self.checkpoints:
            # after the record: a checkpoint never gets ahead of metrics.json
            self._save_checkpoint(impl, epoch, version)
        return shown

    def restore(self, impl, version):
        """Load impl's saved state into version; return the epochs it has already done."""
        self.impl = impl
        run = self.metrics['runs'].setdefault(impl, {'epochs': []})
        if not self.checkpoints:
            return []
        if run.get('finished'):
            load_version(self.path(MODEL_FILES[impl]), version, _ctx(version))
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

    # ---- checkpoints

    def _checkpoint_paths(self, impl, epoch=None):
        state = self.path('checkpoint-%s.json' % impl)
        if epoch is None:
            return state
        return state, self.path('checkpoint-%s-epoch%d.params' % (impl, epoch))

    def _save_checkpoint(self, impl, epoch, version):
        """Save version's parameters, then the JSON that names them, with numpy's random state.

        The JSON, written last, marks the checkpoint complete, so a run killed
        in between resumes from the previous epoch; numpy's random state fixes
        the batch order of the epochs to come.
        """
        state_path, params_path = self._checkpoint_paths(impl, epoch)
        save_version(params_path, version)  # itself atomic
        kind, keys, pos, has_gauss, cached = np.random.get_state()
        write_json(state_path, {'identity': self.identity, 'epoch': epoch,
                                'params': os.path.basename(params_path),
                                'numpy_random_state': [kind, keys.tolist(), pos, has_gauss, cached]})
        for old in range(1, epoch):
            old_path = self._checkpoint_paths(impl, old)[1]
            if os.path.exists(old_path):
                os.remove(old_path)

    def _load_checkpoint(self, impl, version):
        """Restore impl's last checkpoint into version; return its epoch (0 if there is none)."""
        state_path = self._checkpoint_paths(impl)
        if not os.path.exists(state_path):
            return 0
        try:
            with open(state_path) as f:
                state = json.load(f)
            kind, keys, pos, has_gauss, cached = state['numpy_random_state']
            random_state = (str(kind), np.array(keys, dtype=np.uint32), int(pos), int(has_gauss),
                            float(cached))
            if len(random_state[1]) != 624:
                raise ValueError
            epoch, own = int(state['epoch']), state.get('identity')
            params_path = self.path(os.path.basename(str(state['params'])))
        except (OSError, ValueError, KeyError, TypeError, OverflowError):
            raise D2LError('%s is damaged; delete it (and its checkpoint-*.params) to resume from '
                           'the start of that version' % state_path) from None
        if own != self.identity:
            raise D2LError('%s belongs to another run (other settings or chapter) than the one in '
                           '%s; delete it to resume from the start of that version'
                           % (state_path, self.path('metrics.json')))
        load_version(params_path, version, _ctx(version))
        np.random.set_state(random_state)
        return epoch

    def _remove_checkpoint(self, impl):
        state_path = self._checkpoint_paths(impl)
        params = re.compile(r'checkpoint-%s-epoch[1-9][0-9]*\.params$' % impl)
        for name in os.listdir(self.folder):
            if params.match(name):
                os.remove(self.path(name))
        if os.path.exists(state_path):
            os.remove(state_path)


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


ALL_FILES = ('all.json', 'summary.json', 'report.html')
SWEEP_FILES = ('summary.json', 'sweep.png')


def _own_files(folder, names, held):
    """Return those of names present in folder when it holds its run (held), else none."""
    return {n for n in names if os.path.exists(os.path.join(folder, n))} if held else set()


def start_all(folder, seed, chapters, resume=False, overwrite=False):
    """Write the all.json of an `all` run in folder (or read it on resume); return the run's seed.

    all writes ALL_FILES and a sub-folder per chapter, replacing only an
    earlier all run's; any other file is refused, or kept with overwrite.
    """
    held = os.path.exists(os.path.join(folder, 'all.json'))
    if not resume and not overwrite and held:
        raise D2LError('%s already holds a run of all; continue it with --resume %s, choose a '
                       'fresh --out, or pass --overwrite to replace it' % (folder, folder))
    for path in claim(folder, _own_files(folder, ALL_FILES + tuple(chapters), held), ALL_FILES,
                      overwrite or resume):
        os.remove(path)
    if resume:
        return read_all(folder)['seed']
    write_json(os.path.join(folder, 'all.json'), {'seed': seed, 'chapters': list(chapters)})
    return seed


def start_sweep(folder, overwrite=False):
    """Check that a sweep may write SWEEP_FILES into folder: a fresh one, or overwrite an earlier sweep's.

    Any file an earlier sweep did not write is refused, or kept with overwrite.
    """
    held = os.path.exists(os.path.join(folder, 'summary.json'))
    if held and not overwrite:
        raise D2LError('%s already holds a sweep; choose a fresh --out or pass --overwrite' % folder)
    for path in claim(folder, _own_files(folder, SWEEP_FILES, held), SWEEP_FILES, overwrite):
        os.remove(path)


def load_model(path, ctx=None):
    """Return (net, description) of a classifier saved in a run folder.

    path is the run folder (the Gluon model is preferred) or one of its
    parameter files (scratch.params, gluon.params); model.json beside it names
    the chapter and its sizes.
    """
    from .chapters import chapter as find_chapter
    from .config import make_config
    folder, name = (path, None) if os.path.isdir(path) else os.path.split(path)
    if not os.path.exists(path):
        raise D2LError('no model at %s; pass a classification run folder or its .params file' % path)
    try:
        with open(os.path.join(folder or '.', 'model.json')) as f:
            description = json.load(f)
        chapter = find_chapter(description['chapter'])
        config = make_config(chapter.options, lr=1.0, **{k: description[k] for k in chapter.model_keys})
    except (OSError, ValueError, KeyError, TypeError, AttributeError, D2LError):
        raise D2LError('%s is not in the run folder of a softmax or mlp run (no readable model.json '
                       'beside it); pass such a folder or its .params file' % path) from None
    files = {file: impl for impl, file in MODEL_FILES.items()}
    if name is None:
        impl = next((i for i in ('gluon', 'scratch')
                     if os.path.exists(os.path.join(folder, MODEL_FILES[i]))), None)
        if impl is None:
            raise D2LError('%s holds no trained model yet (no gluon.params or scratch.params); '
                           'finish the run with --resume %s' % (path, path))
    elif name in files:
        impl = files[name]
    else:
        raise D2LError('%s is not a model file: pass scratch.params, gluon.params or the run folder'
                       % path)
    version = chapter.setup(impl, config, ctx)
    params_path = os.path.join(folder, MODEL_FILES[impl])
    load_version(params_path, version, ctx)
    return version.net, dict(description, impl=impl, path=params_path)


def _ctx(version):
    """Return the devices a Gluon version's parameters live on (None for scratch)."""
    if version.scratch:
        return None
    return next(iter(version.params.values())).list_ctx()


# ---- progress lines

def format_epoch(record):
    """Return the book's epoch line: 'epoch 1, loss 0.7878, train acc 0.748, test acc 0.802'."""
    line = 'epoch %d, loss %.6f' % (record['epoch'], record['loss'])
    if 'train_acc' in record:
        line = 'epoch %d, loss %.4f, train acc %.3f' % (record['epoch'], record['loss'],
                                                         record['train_acc'])
    if 'test_acc' in record:
        line += ', test acc %.3f' % record['test_acc']
    return line + ' (%.2f s)' % record['seconds']


class Progress:
    """Elapsed time and an estimate of the time left over a plan of chapters.

    plan: {chapter: (expected seconds per epoch, number of epochs)}; the
    estimate rescales the plan by the speed actually seen.
    """

    def __init__(self, plan=None):
        self.plan, self.start, self.done = plan or {}, time.perf_counter(), 0.0

    def tick(self, chapter):
        if chapter in self.plan:
            self.done += self.plan[chapter][0]

    def status(self):
        if not self.plan:
            return ''
        elapsed = time.perf_counter() - self.start
        total = sum(per_epoch * epochs for per_epoch, epochs in self.plan.values())
        # the plan's own guess until an epoch has shown how fast this machine is
        left = (total - self.done) * elapsed / self.done if self.done else total
        return '  [%.0f s elapsed, about %.0f s left]' % (elapsed, max(left, 0.0))
