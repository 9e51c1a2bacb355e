"""numba only: the hot code of a whole BLUR unroll, walled off from orchestration."""
