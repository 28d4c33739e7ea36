"""spark-submit / Databricks entry point for `botdetect report` (same arguments as the CLI)."""

import sys

from botdetect.cli import main

if __name__ == "__main__":
    sys.exit(main(["report", *sys.argv[1:]]))
