"""Single-file entry point for the Atrium launcher (for spark-submit and plain `python launch_kernel.py`).

The package directory `atrium_launcher/` must sit next to this file (or be on PYTHONPATH, e.g. shipped
to YARN with `--py-files atrium_launcher.zip`).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from atrium_launcher.launcher import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
