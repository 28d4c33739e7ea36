"""spark-submit / Databricks entry point for `botdetect train` (same arguments as the CLI)."""

import sys

from botdetect.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))
