"""Small shared helpers: atomic file writes, output folders, seeding."""
