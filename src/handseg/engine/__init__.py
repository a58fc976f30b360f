"""Training, evaluation and prediction with Lightning Fabric."""
