"""Execution strategies, one module each; STRATEGIES maps CLI names to classes."""

from .block_stm import BlockSTM
from .serial import Serial

STRATEGIES = {cls.name: cls for cls in (Serial, BlockSTM)}
