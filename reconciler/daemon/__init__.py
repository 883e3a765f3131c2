"""L5: `hacd`, the per-node daemon (asyncio wiring)."""
