"""L2 pure: Pacemaker CIB XML import/export."""
