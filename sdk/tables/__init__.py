"""`Table`, custom charts and `runlake.plot`."""
