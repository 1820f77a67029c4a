"""The worker process: launcher, capsules, fetch, processor, runners and background loops."""
