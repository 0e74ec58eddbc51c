"""Small helpers below everything else: GIL hand-overs, private files."""
