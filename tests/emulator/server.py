"""`moto_server` with IAM SimulatePrincipalPolicy added (see iam_simulate.py).

Same command line and behaviour as moto's own `moto_server` (`-H HOST -p PORT`, ...): we only
register the extra IAM action, then hand argv to moto's entry point.
"""
import os
import sys

sys.dont_write_bytecode = True  # keep tests/emulator free of __pycache__
# Import the sibling module whether started as a script or via `python -m`.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import iam_simulate  # noqa: E402
from moto.server import main as moto_main  # noqa: E402


def main(argv=None) -> None:
    iam_simulate.register()
    moto_main(argv)


if __name__ == "__main__":
    main(sys.argv[1:])
