"""L0: ids, scores, the error tree, the clock protocol, limits. Imports nothing of ours."""
