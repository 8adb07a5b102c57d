"""The command line: ``d2l-gluon CHAPTER [options]``, one sub-command per chapter.

Each chapter command trains the scratch and/or Gluon version with the
book's defaults, prints a line per epoch and a summary, and writes
metrics.json and PNG figures into its run folder.  Errors a user can cause
print one line on stderr: exit 2 for usage and input errors, 3 when training
diverges, 1 when compare finds the versions differ, 130 on Ctrl-C.
"""
import argparse
import os
import sys
import time

import numpy as np
from mxnet import nd

from . import config as settings
from . import distributed, plot, report, runs
from .chapters import MODULES as CHAPTERS
from .chapters import chapter as find_chapter
from .distributed import KVSTORES
from .errors import D2LError, DivergenceError
from .files import default_out_dir, prepare_out_dir, write_json


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line on stderr and exit code 2."""

    def error(self, message):
        self.exit(2, '%s: error: %s (see %s --help)\n' % (self.prog, message, self.prog))

    def parse_args(self, args=None, namespace=None):
        args, extra = self.parse_known_args(args, namespace)
        if extra:  # the sub-command reports them, so the hint names its --help
            commands = getattr(self, 'commands', {})
            commands.get(getattr(args, 'command', None), self).error(
                'unrecognized arguments: %s' % ' '.join(extra))
        return args

    def parse_known_args(self, args=None, namespace=None):
        args = sys.argv[1:] if args is None else list(args)
        return super().parse_known_args(self._join_numbers(args), namespace)

    def _join_numbers(self, args):
        """Return args with `--opt -3.4,2` given as `--opt=-3.4,2` where --opt takes numbers.

        argparse reads a token that starts with '-' as an option unless it is a plain
        negative number such as -1 or -.5, so -3.4,2 or -1e-05 would leave --opt without
        its value.  Tokens after '--' are left as they are: they belong to another command.
        """
        joined, rest = [], list(args)
        while rest:
            token = rest.pop(0)
            if token == '--':
                return joined + [token] + rest
            if rest and rest[0].startswith('-') and self._takes_numbers(token) and _numbers(rest[0]):
                token = '%s=%s' % (token, rest.pop(0))
            joined.append(token)
        return joined

    def _takes_numbers(self, flag):
        """Return whether flag (or the one option it abbreviates) takes a number or a list of them."""
        actions = self._option_string_actions
        found = {actions[flag]} if flag in actions else {
            actions[s] for s in actions if flag.startswith('--') and s.startswith(flag)}
        kind = getattr(found.pop().type, 'kind', None) if len(found) == 1 else None
        return kind in settings.KINDS and settings.KINDS[kind][0] in (int, float, list)


def _numbers(text):
    """Return whether text reads as a comma-separated list of numbers, e.g. -3.4,2."""
    try:
        return all(float(part) or True for part in text.split(','))
    except ValueError:
        return False


class _Help(argparse.ArgumentDefaultsHelpFormatter):
    """Show each option's default; an option without one says in its help what happens instead."""

    def _get_help_string(self, action):
        return action.help if action.default is None else super()._get_help_string(action)


def _type(kind):
    """Return an argparse type for a config kind, or 'ctx' for a device list."""
    def parse(text):
        try:
            return settings.parse_devices(text) if kind == 'ctx' else settings.parse(kind, text)
        except (ValueError, D2LError) as e:
            raise argparse.ArgumentTypeError(str(e)) from None
    parse.kind = kind  # what _Parser reads to take a negative number as this option's value
    return parse


def _command(sub, name, run, help, description, **options):
    """Add sub-command name, shown with every option's default, that calls run(args)."""
    p = sub.add_parser(name, help=help, description=description, formatter_class=_Help, **options)
    p.set_defaults(run=run)
    return p


def _add_option(parser, name, option):
    """Add --name for a chapter setting: its type, choices, default and help come from the chapter."""
    flag = '--' + name.replace('_', '-')
    if option.kind == 'flag':
        return parser.add_argument(flag, action='store_true', help=option.help)
    choices = option.kind if isinstance(option.kind, tuple) else None
    # a list default is given as it is typed (2.0,-3.4); argparse parses a text default with type
    default = option.default
    if isinstance(default, list):
        default = ','.join(str(v) for v in default)
    parser.add_argument(flag, type=_type(option.kind), choices=choices, default=default,
                        help=option.help, metavar=None if choices else name.upper())


def _add_folder_options(parser, default_folder):
    parser.add_argument('--out', help='run folder (default: %s)' % default_folder)
    parser.add_argument('--resume', metavar='DIR', help='continue the interrupted run in DIR with '
                                                        'its own settings (give no other option)')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace the run already in --out (only its own files), or write '
                             'beside files no run wrote (they are kept), instead of refusing')


def _add_chapter(sub, name):
    chapter = find_chapter(name)
    title = chapter.title
    p = _command(sub, name, run_chapter, title[0].lower() + title[1:], title)
    for option_name, option in dict(settings.COMMON, **chapter.options).items():
        _add_option(p, option_name, option)
    if chapter.presets:
        p.add_argument('--preset', choices=sorted(chapter.presets), help='start from a configuration '
                       'of the course notes: %s; options given as well override it' % '; '.join(
                           '%s: %s' % (k, ', '.join('%s %s' % i for i in v.items()) or "the book's")
                           for k, v in chapter.presets.items()))
    parallel = chapter.data_parallel
    p.add_argument('--ctx', type=_type('ctx'), default='cpu',
                   help='device, e.g. cpu or gpu(0)' + ('; a list for --kvstore' if parallel else ''))
    _add_folder_options(p, 'runs/%s-<timestamp>' % name)
    if parallel:
        p.add_argument('--kvstore', choices=KVSTORES, help='how the Gluon version combines gradients: '
                       'device or local across a --ctx list such as cpu(0),cpu(1), dist_sync or '
                       'dist_async across the processes of launch (default: one device, none)')


def chapter_config(args):
    """Return (config, contexts, kvstore) of a chapter command, or of the run it resumes."""
    chapter = find_chapter(args.command)
    if not args.resume:
        names = set(settings.COMMON) | set(chapter.options)
        config = settings.make_config(chapter.options, **{k: v for k, v in vars(args).items()
                                                          if k in names})
        return chapter.complete(config), args.ctx, getattr(args, 'kvstore', None)
    config, ctx, kvstore = runs.resumed_config(args.resume, args.command)
    return config, settings.parse_devices(','.join(ctx)), kvstore


def run_chapter(args, progress=None):
    """Train a chapter as the command line asks; print its epochs and summary; write its run folder."""
    name, chapter = args.command, find_chapter(args.command)
    config, contexts, kvstore = chapter_config(args)
    devices, out = distributed.setup(contexts, kvstore, config, args.resume or args.out, name,
                                     bool(args.resume), chapter.data_parallel)
    recorded = dict(config, ctx=[str(c) for c in contexts],
                    **({'kvstore': kvstore} if chapter.data_parallel else {}))
    progress = progress or runs.Progress()
    # the data first: a missing data set must not leave an empty run folder behind
    data = chapter.load_data(config, contexts[0])
    if devices:
        devices.check(data.train_iter)  # batches the devices cannot share: before any file exists
    args.out = out or default_out_dir(name)
    model = ({'chapter': name, 'files': runs.MODEL_FILES, **{k: config[k] for k in chapter.model_keys}}
             if chapter.model_keys is not None else None)  # model.json: what predict needs
    figures = chapter.figure_names(config)
    with runs.Run(args.out, name, recorded, resume=bool(args.resume), overwrite=args.overwrite,
                  checkpoints=chapter.checkpoints, every=config.get('print_every') or 1,
                  model=model, figures=figures) as run:
        def on_epoch(impl, record, version):
            if devices and devices.kv is not None and record['epoch'] == 1:
                print(devices.describe(), flush=True)  # the worker's shard exists once fit began
            progress.tick(name)
            for batch, moving in record.get('moving_losses', ()):  # straight-dope's own lines
                print('%-7s Epoch %d, batch %d. Average loss: %f' % (impl, record['epoch'], batch, moving))
            if run.on_epoch(impl, record, version):
                print('%-7s %s%s' % (impl, runs.format_epoch(record), progress.status()), flush=True)
        def restore(impl, version):
            done = run.restore(impl, version)
            if done:
                print('%-7s resumed after epoch %d' % (impl, len(done)), flush=True)
            return done
        result = chapter.fit(config, contexts[0], on_epoch=on_epoch, restore=restore, data=data,
                             **({'devices': devices} if devices else {}))
        for impl, (version, _) in result['trained'].items():
            run.finished(impl, version)
        for line in chapter.summary(config, result['metrics']):
            print(line)
        run.record(*figures)
        chapter.figures(config, result, args.out)
        run.finish(result['metrics'])
    print('results in %s' % args.out)
    return 0


# ---- data, predict

def _add_data(sub):
    p = _command(sub, 'data', run_data, 'find or download Fashion-MNIST and check it',
                 'Find the Fashion-MNIST idx files (downloading them into the gluon cache if '
                 'needed), read and check all four.')
    p.add_argument('--data-dir', help='folder with the four idx files (default: search '
                                      '$D2L_GLUON_DATA, the gluon cache, then download)')
    p.add_argument('--no-download', action='store_true', help='only search, never download')


def run_data(args):
    from .data import find_fashion_mnist, read_fashion_mnist
    files = find_fashion_mnist(args.data_dir, download=not args.no_download)
    train_images, _, test_images, _ = read_fashion_mnist(args.data_dir, download=False)
    print('Fashion-MNIST: %d training and %d test images in %s'
          % (len(train_images), len(test_images), os.path.dirname(next(iter(files.values())))))
    return 0


def _add_predict(sub):
    p = _command(sub, 'predict', run_predict, 'classify 28x28 grayscale PNGs with a trained model',
                 'Print the top 3 classes, with probabilities, of each image.')
    p.add_argument('images', nargs='*', metavar='IMAGE.png', help='images to classify')
    p.add_argument('--model', required=True,
                   help='run folder of a softmax or mlp run, or its scratch.params / gluon.params')
    p.add_argument('--from-test', type=_type('count'), metavar='N',
                   help='classify the first N test-set images instead of IMAGE files')
    p.add_argument('--data-dir', help='Fashion-MNIST folder for --from-test (default: search)')
    p.add_argument('--ctx', type=_type('ctx'), default='cpu', help='device, e.g. cpu or gpu(0)')


def run_predict(args):
    from .chapters.softmax_regression import predict
    from .data import TEXT_LABELS, images_to_classify
    if bool(args.images) == bool(args.from_test):
        raise D2LError('give IMAGE files or --from-test N, not %s' % ('both' if args.images else 'neither'))
    if len(args.ctx) > 1:
        raise D2LError('predict runs on one device; pass a single --ctx')
    net, description = runs.load_model(args.model, args.ctx[0])
    names, images = images_to_classify(args.images, args.from_test, args.data_dir)
    probabilities = predict(net, nd.array(images, ctx=args.ctx[0]))
    print('%s model (%s) from %s' % (description['chapter'], description['impl'], description['path']))
    for name, p in zip(names, probabilities):
        top = np.argsort(-p)[:3]
        print('%s: %s' % (name, ', '.join('%s %.3f' % (TEXT_LABELS[k], p[k]) for k in top)))
    return 0


# ---- compare

def _add_compare(sub):
    p = _command(sub, 'compare', run_compare,
                 'train both versions from identical parameters and batches',
                 'Train scratch and Gluon from the same initial parameters and batch order, print '
                 'both per epoch with their differences, and exit 1 when they differ beyond the '
                 'chapter tolerance.')
    p.add_argument('chapter', choices=_trained(), help='the chapter to compare')
    p.add_argument('--num-epochs', type=_type('count'), help="passes (default: the chapter's)")
    p.add_argument('--seed', type=_type('seed'), default=0, help='random seed')
    p.add_argument('--data-dir', help='Fashion-MNIST folder (softmax, mlp; default: search)')
    p.add_argument('--tolerance', type=_type('positive'),
                   help="largest relative difference allowed (default: the chapter's)")
    p.add_argument('--perturb', type=_type('number'), default=0.0, metavar='EPS',
                   help='add EPS to the first Gluon bias after the copy, to see compare fail')


def _trained():
    """Return the chapters that train (the ones compare and sweep take): those with a compare record."""
    return sorted(c for c in CHAPTERS if find_chapter(c).compare is not None)


def _differ(message):
    print('d2l-gluon compare: error: scratch and Gluon differ%s' % message, file=sys.stderr)
    return 1


def run_compare(args):
    from .compare import compare, compare_config, format_comparison
    chapter = find_chapter(args.chapter)
    config = compare_config(chapter, num_epochs=args.num_epochs, seed=args.seed, data_dir=args.data_dir)
    result = compare(chapter, config, perturb=args.perturb)
    if 'diverged' in result:
        where = result['diverged']
        return _differ(': the %s version diverged in epoch %d, batch %d%s' % (
            where['impl'], where['epoch'], where['batch'],
            ' (--perturb %g moved its start that far)' % args.perturb if args.perturb else ''))
    tolerance = args.tolerance or result['tolerance']
    print('\n'.join(format_comparison(result, tolerance)))
    if max(result['loss_diff'], result['param_diff']) > tolerance:
        return _differ(' by more than %g' % tolerance)
    print('scratch and Gluon agree within %g' % tolerance)
    return 0


# ---- sweep

def _add_sweep(sub):
    p = _command(sub, 'sweep', run_sweep, 'train a chapter over lists of option values and seeds',
                 'Train CHAPTER for every combination of the comma-separated values of its numeric '
                 'options and every seed, in parallel processes; print each run as it ends, then '
                 'the final loss and test accuracy of each combination (mean and spread over '
                 'seeds), runs that diverged marked; write summary.json and sweep.png.',
                 usage='d2l-gluon sweep CHAPTER --OPTION V1,V2,... [--seeds 0,1,2] [--processes N] '
                       '[--out DIR] [--overwrite]')
    p.add_argument('chapter', choices=_trained(), help='the chapter to sweep')
    p.add_argument('settings', nargs=argparse.REMAINDER, metavar='--OPTION VALUES',
                   help="the chapter's options, a comma-separated list for those to sweep (e.g. "
                        '--lr 0.01,0.1 --num-epochs 3); --seeds 0,1,2 (default 0); --processes N '
                        '(default: up to 2); --out DIR (default: runs/sweep-CHAPTER-<timestamp>)')


def run_sweep(args):
    from . import sweep
    chapter = find_chapter(args.chapter)
    plan = sweep.plan(chapter, args.settings)
    varied = sorted(plan['values'])
    configs = sweep.grid(chapter, plan['fixed'], plan['values'], plan['seeds'])
    out = args.out = plan['out'] or default_out_dir('sweep-' + args.chapter)
    runs.refuse_other_runs(out, 'sweep')
    created = not os.path.exists(out)
    with runs.FolderLock(prepare_out_dir(out)):
        runs.start_sweep(out, plan['overwrite'])
        clock = sweep.Clock(len(configs))
        done = {}

        def on_done(i, result, finished, total):
            done[i] = result
            print('[%d/%d] %s  [%s]' % (finished, total, sweep.describe(result, varied),
                                        clock.status(finished)), flush=True)
        try:
            sweep.sweep(args.chapter, configs, plan['processes'], on_done)
        except (KeyboardInterrupt, D2LError):
            # keep the runs that finished; main then says where they are, or with none, nothing
            finished = [done[i] for i in sorted(done)]
            if finished:
                _save_sweep(out, args.chapter, plan, varied, finished, interrupted=True)
            else:
                args.out = None
                if created:
                    os.rmdir(out)
            raise
        results = [done[i] for i in range(len(configs))]
        rows = _save_sweep(out, args.chapter, plan, varied, results)
    print('\n'.join(sweep.format_table(rows)))
    print('results in %s (summary.json, sweep.png)' % out)
    return 0


def _save_sweep(out, chapter, plan, varied, results, interrupted=False):
    """Write a sweep's sweep.png and summary.json; return its table."""
    from . import sweep
    rows = sweep.table(results, varied)
    plot.sweep_curves(results, varied, os.path.join(out, 'sweep.png'))
    sweep.save_summary(out, chapter, plan, rows, results, interrupted)
    return rows


# ---- launch

def _add_launch(sub):
    p = _command(
        sub, 'launch', run_launch,
        'train softmax or mlp in several worker processes (parameter server)',
        'Start a scheduler, SERVERS servers and WORKERS workers on 127.0.0.1; each worker runs '
        'CHAPTER ARGS --impl gluon --kvstore dist_sync on its shard of the training set, '
        '--batch-size being the batch of all workers together. Worker 0 writes the run folder, '
        'worker r its sub-folder worker<r>. When any process fails, all are stopped.',
        usage='d2l-gluon launch -n WORKERS [-s SERVERS] [--timeout S] -- CHAPTER ARGS...')
    p.add_argument('-n', '--workers', type=_type('count'), required=True, help='worker processes')
    p.add_argument('-s', '--servers', type=_type('count'), default=1, help='server processes')
    p.add_argument('--timeout', type=_type('positive'), metavar='S',
                   help='stop every process after S seconds (default: no limit)')
    p.add_argument('chapter_args', nargs=argparse.REMAINDER, metavar='-- CHAPTER ARGS',
                   help='softmax or mlp and its options, e.g. -- softmax --lr 0.1')


def run_launch(args):
    from .launch import launch
    command = args.chapter_args[1:] if args.chapter_args[:1] == ['--'] else list(args.chapter_args)
    if not command or command[0] not in ('softmax', 'mlp'):
        raise D2LError('name the chapter to train after --: softmax or mlp, e.g. '
                       'd2l-gluon launch -n 2 -- softmax')
    # check the chapter's options before any process starts (a usage error exits 2 here)
    chapter = build_parser().parse_args(command)
    if chapter.impl != 'gluon':
        print('launch trains the Gluon version, the one that runs distributed', flush=True)
        command += ['--impl', 'gluon']
    if chapter.kvstore is None:
        command += ['--kvstore', 'dist_sync']
    elif not chapter.kvstore.startswith('dist'):
        raise D2LError('--kvstore %s does not reach across processes; use dist_sync (the default '
                       'of launch) or dist_async' % chapter.kvstore)
    config = chapter_config(chapter)[0]
    distributed.check(chapter.ctx, chapter.kvstore or 'dist_sync', ('gluon',))
    distributed.check_workers(config, chapter.kvstore or 'dist_sync', args.workers, bool(chapter.resume))
    if chapter.out is None:
        # the workers must agree on the run folder, so the launcher names it
        chapter.out = default_out_dir(command[0])
        command += ['--out', chapter.out]
    launch(command, args.workers, args.servers, args.timeout)
    print('results in %s' % ', '.join(
        [chapter.out] + [os.path.join(chapter.out, 'worker%d' % r) for r in range(1, args.workers)]))
    return 0


# ---- all

def _add_all(sub):
    p = _command(sub, 'all', run_all, 'every chapter with the book defaults, both implementations',
                 'Run every chapter into one run folder (one sub-folder each), then write '
                 'summary.json and report.html.')
    p.add_argument('--seed', type=_type('seed'), default=0, help='random seed of every chapter')
    _add_folder_options(p, 'runs/<timestamp>')


def _all_plan(args, out, names, seed):
    """Return the parsed chapter commands `all` still has to run (printing those finished earlier)."""
    todo = []
    for name in names:
        folder = os.path.join(out, name)
        earlier = args.resume and os.path.exists(os.path.join(folder, 'metrics.json'))
        if earlier and runs.read_metrics(folder).get('finished'):
            print('== %s: finished earlier, kept' % name)
            continue
        todo.append(build_parser().parse_args(
            [name] + (['--resume', folder] if earlier else
                      ['--seed', str(seed), '--out', folder] + ['--overwrite'] * bool(args.overwrite))))
    return todo


def run_all(args):
    out = args.out = args.resume or args.out or default_out_dir()
    names = list(CHAPTERS)
    if args.resume:
        runs.read_all(out)  # before anything is created: a wrong folder stays as it was
    runs.refuse_other_runs(out, 'all')
    with runs.FolderLock(prepare_out_dir(out)):
        seed = runs.start_all(out, args.seed, names, args.resume, args.overwrite)
        todo = _all_plan(args, out, names, seed)
        # each chapter's epoch_seconds is a rough guess that the estimate rescales by the speed seen
        progress = runs.Progress({a.command: (find_chapter(a.command).epoch_seconds, _epochs(a))
                                  for a in todo})
        start = time.perf_counter()
        for chapter_args in todo:
            print('== %s%s' % (chapter_args.command, progress.status()), flush=True)
            run_chapter(chapter_args, progress)
        summary = report.summarize(out, names)
        summary['seconds'] = time.perf_counter() - start
        write_json(os.path.join(out, 'summary.json'), summary)
        report.write_html(os.path.join(out, 'report.html'), out, summary)
    print()
    print(report.summary_table(summary))
    print('all results in %s (report.html, summary.json)' % out)
    return 0


def _epochs(args):
    """Return the number of epochs (of both versions) a chapter command will train."""
    config = chapter_config(args)[0]
    return config.get('num_epochs', 0) * len(settings.impls(config))


def build_parser():
    parser = _Parser(prog='d2l-gluon', description=__doc__.split('\n')[0])
    sub = parser.add_subparsers(dest='command', metavar='COMMAND', parser_class=_Parser)
    sub.required = True
    parser.commands = sub.choices
    for name in CHAPTERS:
        _add_chapter(sub, name)
    for add in (_add_data, _add_compare, _add_predict, _add_sweep, _add_launch, _add_all):
        add(sub)
    return parser


def _resume_alone(command, argv):
    """Raise D2LError naming the options argv gives beside --resume: the resumed run ignores them."""
    parser = build_parser().commands[command]
    for action in parser._actions:  # parsed without defaults, only what argv gives is set
        action.default = argparse.SUPPRESS
    dests = {action.dest for action in parser._actions}
    given = parser.parse_known_args(argv[argv.index(command) + 1:])[0]
    others = ['--' + dest.replace('_', '-') for dest in vars(given) if dest in dests - {'resume'}]
    if others:
        raise D2LError('--resume continues the run with its own settings; drop %s' % ', '.join(others))


def main(argv=None):
    """Run the command line; return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, 'preset', None):  # the preset's values become the defaults, and parse again
        parser.commands[args.command].set_defaults(
            **find_chapter(args.command).presets[args.preset])
        args = parser.parse_args(argv)
    try:
        if getattr(args, 'resume', None):
            _resume_alone(args.command, sys.argv[1:] if argv is None else list(argv))
        code = args.run(args)
    except D2LError as e:
        where = ('; the metrics of the epochs before are in %s' % e.folder
                 if isinstance(e, DivergenceError) and e.folder else '')
        print('d2l-gluon %s: error: %s%s' % (args.command, e, where), file=sys.stderr)
        code = e.exit_code
    except KeyboardInterrupt:
        folder = getattr(args, 'out', None)
        print('\ninterrupted%s' % ('; partial results are in %s' % folder
                                   if folder and os.path.isdir(folder) else ''), file=sys.stderr)
        code = 130
    # a parameter-server worker that fails ends at once: see distributed.exit_code
    return distributed.exit_code(code)
