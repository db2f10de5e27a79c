"""The choices ``explain`` takes (kept free of heavy imports: the CLI reads them at start)."""

METHODS = ("auto", "tree", "permutation", "kernel", "partition")
PERTURBATIONS = ("interventional", "path-dependent")
DEFAULT_ROWS = 1000
DEFAULT_BACKGROUND = 100
