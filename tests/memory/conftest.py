"""Fixtures of the memory tests: memories shared with tests/app (built once)."""
from tests.explored_worlds import b99_memory, house_mem, house_world  # noqa: F401
