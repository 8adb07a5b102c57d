"""Allow ``python -m d2l_gluon``."""
import sys

from .cli import main

sys.exit(main())
