"""The pruning lab's background experiments: subprocesses, and the queue one server shares."""
