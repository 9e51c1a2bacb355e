"""Where genome evaluations run: serial and loky (backends.py), dask (dask_cluster.py), jax."""
