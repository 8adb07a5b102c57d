#!/usr/bin/env python
"""mlp, scratch and Gluon: the same as ``d2l-gluon mlp``."""
import sys

from d2l_gluon.cli import main

if __name__ == '__main__':
    sys.exit(main(['mlp'] + sys.argv[1:]))
