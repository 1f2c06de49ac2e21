"""Fixtures of the app tests: memories shared with tests/memory (built once)."""
from tests.explored_worlds import b99_memory, house_mem, house_world  # noqa: F401
