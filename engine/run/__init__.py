"""Running recipes: jobs and their history, triggers, the state store, the connections file, pools,
sandboxes served for a run.
"""
