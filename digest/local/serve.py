"""The child process: llama.cpp's server on 127.0.0.1, until its parent goes.

Run as `python -m digest.local.serve MODEL --parent PID ...` by server.py. It
prints one JSON line, {"url": ...}, once the model is loaded and the server
answers, then serves until standard input closes. It dies with its parent
however the parent ends: the kernel sends SIGKILL when the parent dies
(PR_SET_PDEATHSIG), and a parent that is gone also closes the pipe on stdin.
It runs in its own session, so a Ctrl-C at the terminal reaches only the
parent, which then stops it in order.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int) -> None:
    """Ask the kernel for SIGKILL when the parent exits (Linux); and if it
    already did before we got here, go now."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:
        os._exit(0)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("model")
    parser.add_argument("--parent", type=int, required=True)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--context", type=int, default=2048, help="tokens per slot")
    parser.add_argument("--parallel", type=int, default=1, help="requests served at once")
    args = parser.parse_args(argv)
    die_with_parent(args.parent)

    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = args.model
    params.hostnames = ["127.0.0.1"]
    params.port = 0  # the kernel picks a free port; no race with another process
    params.n_parallel = args.parallel
    params.n_ctx = args.context * args.parallel  # llama.cpp splits it among the slots
    params.cpuparams.n_threads = args.threads
    params.cpuparams_batch.n_threads = args.threads
    params.warmup = False
    params.verbosity = 0
    server = xllamacpp.Server(params)  # returns once the model is loaded and listening
    print(json.dumps({"url": server.listening_address}), flush=True)
    sys.stdin.read()  # until the parent closes the pipe (or is gone)
    os._exit(0)  # no C++ teardown to wait for


if __name__ == "__main__":
    main()
