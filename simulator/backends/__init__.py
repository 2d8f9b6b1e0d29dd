"""Backends, one module each: where a strategy's tasks run. BACKENDS maps CLI names
to classes."""

from .processes import ProcessesBackend
from .simulated import SimulatedBackend

BACKENDS = {backend.name: backend for backend in (SimulatedBackend, ProcessesBackend)}
