"""The Pruning lab's forms and their progress: your own experiment (experiment; its inputs in fields, its
starting values in presets) and a gate sweep on the picked run (gate_sweep); what every session of the server
shares in shared. Each runs as a background process; a fragment polls its progress.

The entry point imports lib first, which puts the project root on sys.path for these modules too.
"""
