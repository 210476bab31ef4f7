"""Start llama.cpp's server for a run and stop it at the end, leaving nothing behind.

The server runs in a child process (serve.py) rather than in this one: a model
that crashes or hangs cannot take the run with it, and the child can be
stopped by its process id at any point. How it never outlives us:

- normal end, an exception, Ctrl-C, SIGTERM handled by `digest run`: the
  context manager closes the child's stdin, waits briefly, then kills it;
- SIGKILL of `digest` (or any death that runs no Python code): the kernel
  kills the child (PR_SET_PDEATHSIG), and its stdin pipe closes as well.

PR_SET_PDEATHSIG fires when the *thread* that started the child ends; the
server lives inside one `with` block on that thread (also in `digest serve`,
whose jobs run on pool threads), so it never outlives its starter early.
"""

from __future__ import annotations

import json
import logging
import os
import select
import subprocess
import sys
import tempfile
import time
from importlib.util import find_spec
from pathlib import Path
from types import TracebackType

from digest.errors import BackendError, ConfigError
from digest.text import printable

START_TIMEOUT_S = 180.0  # loading a large model from a cold disk can take a while
STOP_WAIT_S = 5.0
logger = logging.getLogger(__name__)


def default_threads() -> int:
    """Half the logical cores: about the physical ones on a laptop. llama.cpp's threads
    spin while they wait for each other, so one per logical core (or more threads than
    the machine has free) can be many times slower, not faster: on a busy 2-core
    machine 2 threads generated 1-2 tokens/s where 1 thread generated 15-25."""
    return max(1, (os.cpu_count() or 2) // 2)


class LocalServer:
    """`with LocalServer(model) as server:` server.base_url is an OpenAI-compatible API."""

    def __init__(
        self,
        model: Path,
        *,
        threads: int | None = None,
        context: int = 2048,
        parallel: int = 1,
        start_timeout: float = START_TIMEOUT_S,
    ) -> None:
        self.model = model
        self.threads = threads or default_threads()
        self.context = context
        self.parallel = parallel
        self.start_timeout = start_timeout
        self.process: subprocess.Popen[bytes] | None = None
        self.base_url = ""

    def __enter__(self) -> LocalServer:
        if find_spec("xllamacpp") is None:
            raise ConfigError(
                "the local backend needs llama.cpp's server: pip install 'digest[local]'"
            )
        log = tempfile.TemporaryFile()  # the server's own messages, shown if it fails
        command = [
            sys.executable,
            "-m",
            "digest.local.serve",
            str(self.model),
            "--parent",
            str(os.getpid()),
            "--threads",
            str(self.threads),
            "--context",
            str(self.context),
            "--parallel",
            str(self.parallel),
        ]
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            start_new_session=True,  # a terminal's Ctrl-C reaches us; we stop it in order
        )
        try:
            line = self._first_line()
            self.base_url = json.loads(line)["url"].rstrip("/") + "/v1"
        except BaseException as exc:
            code = self.stop()
            if not isinstance(exc, ValueError | KeyError | TimeoutError):
                raise
            log.seek(0)
            tail = printable(log.read()[-400:].decode("utf-8", "replace"))
            raise BackendError(
                f"llama.cpp's server did not start with {self.model.name}"
                f" ({exc if isinstance(exc, TimeoutError) else f'exit {code}'})"
                + (f": {tail}" if tail else "")
            ) from None
        finally:
            log.close()
        logger.info(
            "llama.cpp's server for %s at %s (pid %d, %d threads, %d slots)",
            self.model.name,
            self.base_url,
            self.process.pid,
            self.threads,
            self.parallel,
        )
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def _first_line(self) -> str:
        """The child's {"url": ...} line, read without blocking past the deadline."""
        out = self.process.stdout if self.process else None
        if out is None:
            raise ValueError("the server is not running")
        data = b""
        deadline = time.monotonic() + self.start_timeout
        while b"\n" not in data:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no answer within {self.start_timeout:g} s")
            ready, _, _ = select.select([out], [], [], min(left, 0.5))
            if ready:
                chunk = os.read(out.fileno(), 4096)
                if not chunk:
                    raise ValueError("the server exited")
                data += chunk
        return data.split(b"\n", 1)[0].decode("utf-8", "replace")

    def stop(self) -> int | None:
        """Stop the child by its process id: close its stdin, then kill if it lingers."""
        process, self.process = self.process, None
        if process is None:
            return None
        logger.info("stopping llama.cpp's server (pid %d)", process.pid)
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                stream.close()
        try:
            return process.wait(STOP_WAIT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            return process.wait()
