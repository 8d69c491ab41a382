"""Schedules: workflows that start themselves at the times a spec says, exactly once per fire.

spec.py (when), store.py (the schedules a person keeps), firing.py (a fire starts its run),
tasks.py (the worker's jobs). docs/schedules.md tells the whole story."""
