"""spark-submit / Databricks entry point for `botdetect labels` (same arguments as the CLI)."""

import sys

from botdetect.cli import main

if __name__ == "__main__":
    sys.exit(main(["labels", *sys.argv[1:]]))
