import pathlib
import sys

# Tests import the launcher package from the source tree, exactly as `python -m atrium_launcher` does.
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
