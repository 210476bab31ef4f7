"""Files written for someone else to read, written whole or not at all.

The outbox (a mail pickup reads it), the day's Markdown digest and the static
site (a web server serves them) are read while digest may be writing them. So
every such file is written in one way: into a temporary file beside the target,
then renamed over it, which on one file system is atomic. A reader sees the old
file or the new one, never half of either, and a crash leaves at most a stray
`.name.*.tmp` file, never a truncated target.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomic(path: Path, data: bytes, *, mode: int = 0o644, durable: bool = False) -> None:
    """Replace `path` with `data` in one step; `mode` is the file's permissions.

    `durable` also flushes the data to disk before the rename, for files whose
    loss after a power cut matters (an email recorded as sent); pages that are
    rebuilt on the next run skip that cost.
    """
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            if durable:
                out.flush()
                os.fsync(out.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
