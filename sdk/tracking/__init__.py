"""The write side of the Run API: `init`, the live `Run`, its config, summary, metrics and
step rules, settings, resume and fork, and the Run's files, code, artifacts, alerts and watch."""
