"""Progress of a long batch on stderr: a tqdm bar with an ETA on a terminal, a line every few
seconds with the same estimate otherwise (a CI log or a file gets no carriage returns)."""

from __future__ import annotations

import sys
import time


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


class Progress:
    """``Options.progress``: called with (notebooks run, notebooks to run)."""

    def __init__(self, stream=None, interval: float = 10.0):
        self.stream = stream if stream is not None else sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.interval = interval
        self.bar = None
        self.first: float | None = None  # when the first result came
        self.last_line = 0.0

    def __call__(self, done: int, total: int) -> None:
        if total == 0:
            return
        if self.tty:
            if self.bar is None:
                from tqdm import tqdm

                self.bar = tqdm(
                    total=total,
                    unit="notebook",
                    desc="grading",
                    file=self.stream,
                    dynamic_ncols=True,
                    smoothing=0.1,
                )
            self.bar.update(done - self.bar.n)
            if done == total:
                self.close()
            return
        now = time.monotonic()
        if done == 0:
            print(f"grading {total} notebook(s)...", file=self.stream, flush=True)
            return
        if self.first is None:
            self.first = now
        if done < total and now - self.last_line < self.interval:
            return
        self.last_line = now
        line = f"graded {done}/{total} notebooks"
        if done < total and done > 1:
            left = (now - self.first) / (done - 1) * (total - done)
            line += f", about {_clock(left)} left"
        print(line, file=self.stream, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
