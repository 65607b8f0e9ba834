"""What several tests share: servers they start, programs they run, paths, helpers."""
