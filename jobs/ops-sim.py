"""spark-submit / Databricks entry point for `botdetect ops-sim` (synthetic worlds only:
the simulated ops team; same arguments as the CLI)."""

import sys

from botdetect.cli import main

if __name__ == "__main__":
    sys.exit(main(["ops-sim", *sys.argv[1:]]))
