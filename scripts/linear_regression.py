#!/usr/bin/env python
"""Linear regression, scratch and Gluon: the same as ``d2l-gluon linreg``."""
import sys

from d2l_gluon.cli import main

if __name__ == '__main__':
    sys.exit(main(['linreg'] + sys.argv[1:]))
