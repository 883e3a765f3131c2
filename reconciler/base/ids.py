"""Identifiers used across layers. NewTypes: free at run time, checked by mypy."""

from typing import NewType

NodeName = NewType("NodeName", str)
ResourceName = NewType("ResourceName", str)
Term = NewType("Term", int)
Revision = NewType("Revision", int)
MemberId = NewType("MemberId", int)
LeaseId = NewType("LeaseId", int)
FencingToken = NewType("FencingToken", int)
