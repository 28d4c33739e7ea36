"""spark-submit / Databricks entry point for `botdetect validate` (same arguments as the CLI)."""

import sys

from botdetect.cli import main

if __name__ == "__main__":
    sys.exit(main(["validate", *sys.argv[1:]]))
