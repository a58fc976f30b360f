"""End-to-end jobs built from the engine: the demo, the paper's tables on synthetic data, their figures."""
