"""blgnn-es: meta-learn bidirectional learning rules (BLUR) with CMA-ES."""

__version__ = "0.1.0"
