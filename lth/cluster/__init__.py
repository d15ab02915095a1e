"""`--cluster`: runs and sweeps as Ray tasks (execute), what travels to and runs on a worker (tasks)."""
