"""Schedules: workflows that start themselves at the times a spec says, exactly once per fire.

spec.py (when), store.py (the schedules a person keeps), firing.py (a fire starts its run),
batch.py (many due fires together), jobs.py and tasks.py (the worker's jobs). docs/schedules.md tells the whole story."""
