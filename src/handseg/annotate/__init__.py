"""Auto-annotation of aligned color+depth recordings and the review page."""
