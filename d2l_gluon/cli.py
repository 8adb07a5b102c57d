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

from . import config as settings
from . import arguments, command, course, distributed, report, runs, worker
from .arguments import Parser, add_chapter, add_folder_options, command as _command, type_of as _type
from .chapters import MODULES as CHAPTERS
from .chapters import chapter as find_chapter
from .errors import D2LError, DivergenceError
from .files import default_out_dir


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


def run_chapter(args, progress=None, summary_file=False):
    """Train a chapter as the command line asks; print its epochs and summary; write its run folder."""
    config, contexts, kvstore = chapter_config(args)
    prepared = command.prepare(args.command, config, contexts, kvstore, args.resume or args.out,
                             bool(args.resume))
    args.out = prepared[2] or default_out_dir(args.command)
    command.train(args.command, config, contexts, kvstore, prepared, args.out, bool(args.resume),
                args.overwrite, progress, summary_file or args.summary_file)
    return 0


# ---- data, predict

def _add_data(sub):
    p = _command(sub, 'data', run_data, 'find or download Fashion-MNIST and check it',
                 'Find the Fashion-MNIST idx files (downloading them into the gluon cache if '
                 'needed), read and check all four.')
    p.add_argument('--data-dir', help='folder with the four idx files (default: search '
                                      '$D2L_GLUON_DATA, the gluon cache, '
                                      '/usr/share/datasets/fashion-mnist, then download)')
    p.add_argument('--no-download', action='store_true', help='only search, never download')


def run_data(args):
    from .fashion_mnist import find_fashion_mnist, read_fashion_mnist
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
    from .predict import classify
    description, rows = classify(args.model, args.ctx, args.images, args.from_test, args.data_dir)
    print('%s model (%s) from %s' % (description['chapter'], description['impl'], description['path']))
    for name, top in rows:
        print('%s: %s' % (name, ', '.join('%s %.3f' % item for item in top)))
    return 0


# ---- compare

def _add_compare(sub):
    p = _command(sub, 'compare', run_compare,
                 'train the versions from identical parameters and batches',
                 'Train scratch and Gluon (or the versions --impl names) from the same initial '
                 'parameters and batch order, print every pair per epoch with their differences, '
                 'and exit 1 when they differ beyond the chapter tolerance.')
    p.add_argument('chapter', choices=_trained(), help='the chapter to compare')
    p.add_argument('--num-epochs', type=_type('count'), help="passes (default: the chapter's)")
    p.add_argument('--seed', type=_type('seed'), default=0, help='random seed')
    p.add_argument('--data-dir', help='Fashion-MNIST folder (softmax, mlp; default: search)')
    p.add_argument('--tolerance', type=_type('positive'),
                   help="largest relative difference allowed (default: the chapter's)")
    p.add_argument('--impl', type=_type('impls'), default='both', metavar='IMPLS',
                   help='the versions to compare, comma-separated: scratch, gluon, pytorch '
                        '(linreg, softmax, mlp, logreg); both: scratch,gluon')
    p.add_argument('--perturb', type=_type('number'), default=0.0, metavar='EPS',
                   help="add EPS to the first bias of every version but the first after the "
                        'copy, to see compare fail')


def _trained():
    """Return the chapters that train (the ones compare and sweep take): those with a compare record."""
    return sorted(c for c in CHAPTERS if find_chapter(c).compare is not None)


def _differ(message):
    print('d2l-gluon compare: error: %s' % message, file=sys.stderr)
    return 1


def run_compare(args):
    from .chapters import check_impls
    from .compare import compare, compare_config, outcome
    from .config import impls
    chapter = find_chapter(args.chapter)
    config = compare_config(chapter, num_epochs=args.num_epochs, seed=args.seed, data_dir=args.data_dir)
    versions = impls({'impl': args.impl})
    check_impls(chapter, {'impl': args.impl})
    lines, failure = outcome(compare(chapter, config, perturb=args.perturb, impls=versions),
                             args.tolerance, args.perturb)
    if lines:
        print('\n'.join(lines))
    return _differ(failure) if failure else 0


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
    if {'-h', '--help'} & set(args.settings):
        arguments.sweep_parser(chapter).print_help()
        return 0
    plan = arguments.sweep_plan(chapter, args.settings)
    configs = sweep.grid(chapter, plan['fixed'], plan['values'], plan['seeds'])
    out = args.out = plan['out'] or default_out_dir('sweep-' + args.chapter)
    finished = []

    def on_done(result, count, total, status):
        finished.append(result)
        print('[%d/%d] %s  [%s]' % (count, total, sweep.describe(result, sorted(plan['values'])), status),
              flush=True)
    try:
        rows = sweep.run(chapter, plan, configs, out, on_done)
    except (KeyboardInterrupt, D2LError):
        if not finished:  # main then says where the finished runs are, or with none, nothing
            args.out = None
        raise
    print('\n'.join(sweep.format_table(rows)))
    print('results in %s (summary.json, sweep.png)' % out)
    return 0


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
    p.add_argument('--processes', metavar='N', type=_type('count'), default=1, help='chapters trained '
                   'at once, each in its own process and printed when it ends; 1: one after another')
    add_folder_options(p, 'runs/<timestamp>')


def run_all(args):
    out = args.out = args.resume or args.out or default_out_dir()
    summary = course.run(out, list(CHAPTERS), args.seed, bool(args.resume), args.overwrite,
                         command=_chapter_command, processes=args.processes,
                         train=lambda args, progress: run_chapter(args, progress, summary_file=True))
    print('\n' + report.summary_table(summary))
    print('all results in %s (report.html, summary.json)' % out)
    return 0


def _chapter_command(argv):
    """Return the chapter command parsed from argv and its config (what `all` runs)."""
    args = build_parser().parse_args(argv)
    return args, chapter_config(args)[0]


def build_parser():
    parser = Parser(prog='d2l-gluon', description=__doc__.split('\n')[0])
    sub = parser.add_subparsers(dest='command', metavar='COMMAND', parser_class=Parser)
    sub.required = True
    parser.commands = sub.choices
    for name in CHAPTERS:
        add_chapter(sub, name, run_chapter)
    for add in (_add_data, _add_compare, _add_predict, _add_sweep, _add_launch, _add_all):
        add(sub)
    return parser


def _resume_alone(command, argv):
    """Raise D2LError naming the options argv gives beside --resume: the resumed run ignores them."""
    parser = build_parser().commands[command]
    for action in parser._actions:  # parsed without defaults, only what argv gives is set
        action.default = argparse.SUPPRESS
    dests = {action.dest for action in parser._actions} - {'resume', 'summary_file', 'processes'}
    given = parser.parse_known_args(argv[argv.index(command) + 1:])[0]
    others = ['--' + dest.replace('_', '-') for dest in vars(given) if dest in dests]
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
    # a parameter-server worker that fails ends at once: see worker.exit_code
    return worker.exit_code(code)
