"""L4 adapters for the operating system: the real clock."""
