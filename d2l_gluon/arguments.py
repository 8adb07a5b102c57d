"""The pieces of the command line's argparse: a parser whose errors are one line, option types and builders.

``Parser`` exits 2 with one line on stderr and takes negative numbers as
option values; ``type_of`` turns a config kind into an argparse type;
``add_option`` adds a chapter setting as --name with its help and default,
``add_chapter`` a chapter's command with all its settings.
"""
import argparse
import sys

from . import config as settings
from .chapters import chapter as find_chapter
from .distributed import KVSTORES
from .errors import D2LError


class Parser(argparse.ArgumentParser):
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


def type_of(kind):
    """Return an argparse type for a config kind, or 'ctx' for a device list."""
    def parse(text):
        try:
            return settings.parse_devices(text) if kind == 'ctx' else settings.parse(kind, text)
        except (ValueError, D2LError) as e:
            raise argparse.ArgumentTypeError(str(e)) from None
    parse.kind = kind  # what Parser reads to take a negative number as this option's value
    return parse


def command(sub, name, run, help, description, **options):
    """Add sub-command name, shown with every option's default, that calls run(args)."""
    p = sub.add_parser(name, help=help, description=description, formatter_class=_Help, **options)
    p.set_defaults(run=run)
    return p


def add_option(parser, name, option):
    """Add --name for a chapter setting: its type, choices, default and help come from the chapter."""
    flag = '--' + name.replace('_', '-')
    if option.kind == 'flag':
        return parser.add_argument(flag, action='store_true', help=option.help)
    choices = option.kind if isinstance(option.kind, tuple) else None
    # a list default is given as it is typed (2.0,-3.4); argparse parses a text default with type
    default = option.default
    if isinstance(default, list):
        default = ','.join(str(v) for v in default)
    parser.add_argument(flag, type=type_of(option.kind), choices=choices, default=default,
                        help=option.help, metavar=None if choices else name.upper())


def add_folder_options(parser, default_folder):
    parser.add_argument('--out', help='run folder (default: %s)' % default_folder)
    parser.add_argument('--resume', metavar='DIR', help='continue the interrupted run in DIR with '
                                                        'its own settings (give no other option)')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace the run already in --out (only its own files), or write '
                             'beside files no run wrote (they are kept), instead of refusing')


def add_chapter(sub, name, run):
    """Add the command of chapter name, with its settings as options, that calls run(args)."""
    chapter = find_chapter(name)
    title = chapter.title
    p = command(sub, name, run, title[0].lower() + title[1:], title)
    for option_name, option in dict(settings.COMMON, **chapter.options).items():
        add_option(p, option_name, option)
    if chapter.presets:
        p.add_argument('--preset', choices=sorted(chapter.presets), help='start from a configuration '
                       'of the course notes: %s; options given as well override it' % '; '.join(
                           '%s: %s' % (k, ', '.join('%s %s' % i for i in v.items()) or "the book's")
                           for k, v in chapter.presets.items()))
    parallel = chapter.data_parallel
    p.add_argument('--ctx', type=type_of('ctx'), default='cpu',
                   help='device, e.g. cpu or gpu(0)' + ('; a list for --kvstore' if parallel else ''))
    add_folder_options(p, 'runs/%s-<timestamp>' % name)
    # how `all --processes N` runs a chapter: its summary into summary.txt, as `all` keeps it
    p.add_argument('--summary-file', action='store_true', help=argparse.SUPPRESS)
    if parallel:
        p.add_argument('--kvstore', choices=KVSTORES, help='how the Gluon version combines gradients: '
                       'device or local across a --ctx list such as cpu(0),cpu(1), dist_sync or '
                       'dist_async across the processes of launch (default: one device, none)')


# ---- sweep: the chapter's options, a list of values where one is swept, and the sweep's own

SWEEP_OWN = ('seeds', 'processes', 'out', 'overwrite')


def sweep_parser(chapter):
    """Return a parser whose help shows what `sweep CHAPTER` takes: the chapter's options and the sweep's."""
    from .sweep import sweepable
    p = Parser(prog='d2l-gluon sweep %s' % chapter.name, formatter_class=_Help,
               usage='%(prog)s --OPTION V1,V2,... [--seeds 0,1,2] [--processes N] [--out DIR] '
                     '[--overwrite]',
               description='Train %s for every combination of the comma-separated values given '
                           'for its numeric options (%s) and every seed.'
                           % (chapter.name, ', '.join('--' + n.replace('_', '-') for n in sweepable(chapter))))
    for option_name, option in dict(settings.COMMON, **chapter.options).items():
        if option_name != 'seed':
            add_option(p, option_name, option)
    p.add_argument('--seeds', default='0', help='the seeds, each a run of every combination')
    p.add_argument('--processes', help='worker processes (default: up to 2)')
    add_folder_options(p, 'runs/sweep-%s-<timestamp>' % chapter.name)
    # a sweep is not resumed: --resume leaves the parser and its help
    for group in p._action_groups:
        group._group_actions = [a for a in group._group_actions if a.dest != 'resume']
    p._actions = [a for a in p._actions if a.dest != 'resume']
    return p


def sweep_plan(chapter, tokens):
    """Return a sweep's settings from its command-line tokens ['--lr', '0.01,0.1', '--seeds', '0,1', ...].

    Returns {'values': {option: [v, ...]}, 'fixed': {option: v}, 'seeds',
    'processes', 'out', 'overwrite'}; an option given one value is fixed, a
    flag given alone is true.  Raise D2LError naming the options as they are typed.
    """
    import multiprocessing

    from .sweep import flag, sweepable
    options = {k: v for k, v in dict(settings.COMMON, **chapter.options).items() if k != 'seed'}
    result = {'values': {}, 'fixed': {}, 'seeds': [0], 'out': None, 'overwrite': False,
              'processes': max(1, min(2, multiprocessing.cpu_count()))}
    tokens = list(tokens)
    while tokens:
        token = tokens.pop(0)
        if token.startswith('--') and '=' in token:  # --lr=0.01,0.1: the form argparse takes too
            token, value = token.split('=', 1)
            tokens.insert(0, value)
        name = token[2:].replace('-', '_') if token.startswith('--') else None
        if name == 'seed':
            raise D2LError('a sweep takes its seeds as --seeds 0,1,2, not --seed')
        if name not in options and name not in SWEEP_OWN:
            raise D2LError('%r: give --OPTION VALUES pairs, e.g. --lr 0.01,0.1 --seeds 0,1; the '
                           'options are %s' % (token, ', '.join(map(flag, sorted(options) + list(SWEEP_OWN)))))
        if name == 'overwrite':
            result['overwrite'] = True
            continue
        if name in options and options[name].kind == 'flag' and (
                not tokens or tokens[0].lower() not in ('true', 'false')):
            result['fixed'][name] = True  # a flag given alone, as the chapter's command takes it
            continue
        if not tokens:
            raise D2LError('%s: give its value, e.g. %s VALUE' % (token, token))
        _set_swept(result, options, name, tokens.pop(0))
    if not result['values'] and len(result['seeds']) < 2:
        raise D2LError('name the values to sweep, e.g. --lr 0.01,0.03,0.1 (one of %s), or several '
                       '--seeds 0,1,2 for one setting' % ', '.join(map(flag, sweepable(chapter))))
    return result


def _set_swept(result, options, name, text):
    """Put option name's text into sweep_plan's result: swept values, a fixed value, seeds, processes or out."""
    from .sweep import SCALAR_KINDS
    try:
        if name in ('seeds', 'processes'):
            kind = 'seed' if name == 'seeds' else 'count'
            values = [settings.parse(kind, part) for part in text.split(',')]
            result[name] = values if name == 'seeds' else values[0]
        elif name == 'out':
            result['out'] = text
        elif options[name].kind in SCALAR_KINDS and ',' in text:
            result['values'][name] = [settings.parse(options[name].kind, part) for part in text.split(',')]
        else:
            result['fixed'][name] = settings.parse(options[name].kind, text)
    except ValueError as e:
        raise D2LError('--%s: %s' % (name.replace('_', '-'), e)) from None
