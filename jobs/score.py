"""spark-submit / Databricks entry point for `botdetect score` (same arguments as the CLI)."""

import sys

from botdetect.cli import main

if __name__ == "__main__":
    sys.exit(main(["score", *sys.argv[1:]]))
