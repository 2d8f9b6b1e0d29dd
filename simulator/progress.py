"""Progress on stderr for long work: a tqdm bar on a terminal, plain lines otherwise.

On a terminal each stage (building a block, the serial check, a strategy's run) shows
a bar that disappears when it ends, and a sweep shows one bar over all its runs. When
stderr is not a terminal (a log file, CI), nothing redraws: a stage writes one line
when it finishes, and a sweep one line per finished run, so a log grows by a line per
unit of work, never by a bar's redraws.

Invariants: progress goes to stderr only (stdout stays for tables and JSON); a stage
that raises writes nothing, so an error after it is still the only line it adds.
"""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager

from tqdm import tqdm


class _Count:
    """What a stage yields off a terminal: counts updates, draws nothing."""

    def __init__(self) -> None:
        self.n = 0

    def update(self, k: int = 1) -> None:
        self.n += k


class Progress:
    def __init__(self, stream=None) -> None:
        self.stream = stream or sys.stderr
        self.terminal = self.stream.isatty()

    def line(self, text: str) -> None:
        """A plain progress line (only off a terminal, where bars are not drawn)."""
        if not self.terminal:
            print(f"pevmsim: {text}", file=self.stream, flush=True)

    def warn(self, text: str) -> None:
        """A warning line, on a terminal too (printed above any bar)."""
        self.info(f"warning: {text}")

    def info(self, text: str) -> None:
        """A line worth seeing on a terminal too (printed above any bar)."""
        message = f"pevmsim: {text}"
        if self.terminal:
            tqdm.write(message, file=self.stream)
        else:
            print(message, file=self.stream, flush=True)

    @contextmanager
    def stage(self, description: str, total: int | None = None, unit: str = "tx",
              log: bool = True):
        """A bar for one stage on a terminal; off it, a line '<description>: X s' when
        the stage ends (unless `log` is False). Yields an object with update(k)."""
        started = time.perf_counter()
        if self.terminal:
            shape = {} if total is not None else {"bar_format": "{desc}: {elapsed}"}
            with tqdm(total=total, desc=description, unit=unit, leave=False,
                      file=self.stream, dynamic_ncols=True, **shape) as bar:
                yield bar
        else:
            yield _Count()
            if log:
                self.line(f"{description}: {time.perf_counter() - started:.1f} s")

    def bar(self, description: str, total: int):
        """The factory `run_block(progress=...)` takes: (description, total) -> stage."""
        return self.stage(description, total)

    @contextmanager
    def runs(self, description: str, total: int, initial: int = 0):
        """Progress over many runs (a sweep): yields `done(text)`, called once per
        finished run: it advances the bar (with tqdm's estimate of the time left), or
        writes '<description> [k/total] text (ETA left)', the time left estimated
        from this session's pace."""
        if self.terminal:
            with tqdm(total=total, initial=initial, desc=description, unit="run",
                      file=self.stream, dynamic_ncols=True) as bar:
                def done(text: str) -> None:
                    bar.set_postfix_str(text)
                    bar.update(1)
                yield done
        else:
            count = initial
            started = time.perf_counter()

            def done(text: str) -> None:
                nonlocal count
                count += 1
                pace = (time.perf_counter() - started) / (count - initial)
                left = round(pace * (total - count))
                self.line(f"{description} [{count}/{total}] {text} "
                          f"(ETA {left // 3600}:{left // 60 % 60:02d}:{left % 60:02d})")
            yield done
