"""Execution strategies, one module each; STRATEGIES maps CLI names to classes."""

from .bal import Bal
from .block_stm import BlockSTM, BlockSTMAbort
from .dag import DAG
from .monad import Monad
from .oracle import Oracle
from .sealevel import Sealevel
from .sei import Sei
from .serial import Serial

STRATEGIES = {cls.name: cls for cls in (Serial, BlockSTM, BlockSTMAbort, Monad, Sei, Sealevel,
                                        DAG, Bal, Oracle)}
