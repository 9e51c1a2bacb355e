"""CMA-ES: the ask/tell driver, resume rules, the run directory and its typed records."""
