"""The model of SPEC.md: genome layout, network settings, and the plain-NumPy oracle."""
