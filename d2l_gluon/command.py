"""A chapter command's body: one chapter trained into its run folder, its lines printed as it goes.

``prepare`` does what comes before the first file is written (devices,
data and their checks); ``train`` then trains the chapter inside its ``Run``,
printing an epoch line with the time left, the chapter's summary and where
the results are, as the chapter commands and `all` show them.
"""
import os

from . import distributed
from .chapters import chapter as find_chapter, check_impls
from .config import impls
from .files import atomic_write
from .monitor import Watch
from .progress import Progress, format_epoch
from .runs import MODEL_FILES, Run


def prepare(name, config, contexts, kvstore, folder, resume):
    """Return (devices, data, folder): devices (None on one), the data, and the folder a worker must use.

    Nothing is written: a missing data set or batches the devices cannot
    share must not leave an empty run folder behind.
    """
    chapter = find_chapter(name)
    check_impls(chapter, config)
    devices, folder = distributed.setup(contexts, kvstore, config, folder, name, resume,
                                        chapter.data_parallel)
    data = chapter.load_data(config, contexts[0])
    if devices:
        devices.check(data.train_iter)
    return devices, data, folder


def train(name, config, contexts, kvstore, prepared, folder, resume=False, overwrite=False,
          progress=None, summary_file=False):
    """Train chapter name into folder with prepared = prepare(...); print its epochs and summary.

    With summary_file the summary goes to summary.txt in folder instead (`all`
    keeps its output to one screen a chapter; its closing table sums them up).
    """
    chapter, (devices, data, _) = find_chapter(name), prepared
    recorded = dict(config, ctx=[str(c) for c in contexts],
                    **({'kvstore': kvstore} if chapter.data_parallel else {}))
    files = {impl: file for impl, file in MODEL_FILES.items()
             if impl != 'pytorch' or 'pytorch' in impls(config)}
    model = ({'chapter': name, 'files': files, **{k: config[k] for k in chapter.model_keys}}
             if chapter.model_keys is not None else None)  # model.json: what predict needs
    # the files the run writes beside metrics.json: a user's file of such a name is refused
    figures = tuple(chapter.figure_names(config)) + (('summary.txt',) if summary_file else ())
    with Run(folder, name, recorded, resume=resume, overwrite=overwrite,
             checkpoints=chapter.checkpoints, every=config.get('print_every') or 1,
             model=model, figures=figures) as run:
        on_epoch, restore = _printing(run, name, devices, progress or Progress())
        result = chapter.fit(config, contexts[0], Watch(on_epoch, restore, devices), data)
        for impl, trained in result.trained.items():
            run.finished(impl, trained.version)
        lines = list(chapter.summary(config, result.metrics))
        run.record(*figures)
        if summary_file:
            atomic_write(os.path.join(folder, 'summary.txt'),
                         lambda tmp: _write_lines(tmp, lines))
        else:
            print('\n'.join(lines))
        chapter.figures(config, result, folder)
        run.finish(result.metrics)
    print('results in %s%s' % (folder, ' (summary.txt)' * summary_file))


def _write_lines(path, lines):
    with open(path, 'w', encoding='utf-8') as f:
        f.write(''.join(line + '\n' for line in lines))


def _printing(run, name, devices, progress):
    """Return fit's on_epoch and restore callbacks: they record into run and print each epoch."""
    def on_epoch(impl, record, version):
        if devices and devices.kv is not None and record['epoch'] == 1:
            print(devices.describe(), flush=True)  # the worker's shard exists once fit began
        progress.tick(name)
        for batch, moving in record.get('moving_losses', ()):  # straight-dope's own lines
            print('%-7s Epoch %d, batch %d. Average loss: %f' % (impl, record['epoch'], batch, moving))
        if run.on_epoch(impl, record, version):
            print('%-7s %s%s' % (impl, format_epoch(record), progress.status()), flush=True)

    def restore(impl, version):
        done = run.restore(impl, version)
        if done:
            print('%-7s resumed after epoch %d' % (impl, len(done)), flush=True)
        return done
    return on_epoch, restore
