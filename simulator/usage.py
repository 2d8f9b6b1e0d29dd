"""How a command ends: the exception for bad input and the documented exit codes.

A UsageError is printed as one line, `pevmsim: error: <message>`, with EXIT_USAGE;
every command module raises this one class (so `python -m simulator.cli` and the
installed `pevmsim` catch the same exception). A RunFailure (a run that could not
complete: a worker process died, a timeout) is one line too, with EXIT_FAILURE.
"""

EXIT_USAGE = 2  # bad input, an invalid block included (a transaction py-evm cannot
# apply; under strategy bal, a block access list that disagrees with execution)
EXIT_MISMATCH = 3  # a run whose result differs from serial execution
EXIT_FAILURE = 4  # a run that could not complete
EXIT_INTERRUPTED = 130


class UsageError(Exception):
    """Bad input: reported as one line, exit code 2."""


class RunFailure(Exception):
    """A run could not complete: reported as one line, exit code 4."""
