"""Bounds on everything the daemon and the CLI accept. Crash or refuse rather than grow."""

MAX_MANIFEST_BYTES = 4 * 1024 * 1024  # one manifest file
MAX_MANIFEST_DOCUMENTS = 10_000  # documents in one apply
MAX_YAML_DEPTH = 64  # nesting of mappings/sequences
MAX_YAML_ALIASES = 100  # alias expansions in one file (billion-laughs guard)
MAX_NAME_LENGTH = 63  # object names, as Kubernetes' DNS labels
MAX_AGENT_OUTPUT_BYTES = 64 * 1024  # kept from an agent's stdout/stderr, tail
DEFAULT_OP_TIMEOUT_S = 20.0  # when neither manifest nor agent meta-data say
