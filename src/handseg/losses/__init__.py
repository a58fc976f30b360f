"""Losses: weighted CE, contour loss, Dice, focal, Jaccard, top-k CE; build_loss(name, **cfg)."""
