"""`python -m atrium_launcher ...`"""

import sys

from atrium_launcher.launcher import main

sys.exit(main(sys.argv[1:]))
