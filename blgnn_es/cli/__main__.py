"""``python -m blgnn_es.cli``: the same command line as ``blgnn-es``."""

from blgnn_es.cli import main

if __name__ == "__main__":
    main()
