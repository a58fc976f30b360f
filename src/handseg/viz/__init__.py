"""Pictures people look at: overlays, contact sheets, plots, the HTML report."""
