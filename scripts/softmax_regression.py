#!/usr/bin/env python
"""softmax regression, scratch and Gluon: the same as ``d2l-gluon softmax``."""
import sys

from d2l_gluon.cli import main

if __name__ == '__main__':
    sys.exit(main(['softmax'] + sys.argv[1:]))
