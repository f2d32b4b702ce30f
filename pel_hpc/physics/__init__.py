"""Physics of the Kob–Andersen mixture: parameters and the LJ pair evaluator (LJ units)."""
