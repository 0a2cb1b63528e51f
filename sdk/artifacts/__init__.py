"""`Artifact`: the versioned file set that the write side logs and the read side returns."""
