"""L6: the `hactl` command line."""
