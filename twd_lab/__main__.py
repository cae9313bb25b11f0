"""``python -m twd_lab``: the ``twd-lab`` command (:func:`twd_lab.cli.main`)."""

import sys

from twd_lab.cli import main

sys.exit(main())
