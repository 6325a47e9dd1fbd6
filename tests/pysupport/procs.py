"""Helpers the Python suites share (tests/clients, tests/guest, tests/python): a free local
port, and child processes started in their own process group and stopped with it (end_group,
kill_group, for processes started elsewhere).

Each suite's conftest.py (tests/python: its test file) puts this folder on sys.path.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
from pathlib import Path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (as of now)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Processes:
    """Child processes, each in its own session (so stopping one also ends what it started),
    output to a log file; stop() ends them all: SIGTERM, then SIGKILL after 5 s."""

    def __init__(self):
        self.started: list[subprocess.Popen] = []

    def start(self, args: list, log: Path) -> subprocess.Popen:
        out = open(log, "w")
        proc = subprocess.Popen([str(a) for a in args], stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
        out.close()
        self.started.append(proc)
        return proc

    def stop(self):
        for proc in self.started:
            end_group(proc)


def end_group(proc: subprocess.Popen, timeout: float = 5):
    """Ends the process group `proc` leads (started with start_new_session=True): SIGTERM,
    then SIGKILL if it has not exited after `timeout` seconds."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_group(proc)


def kill_group(proc: subprocess.Popen):
    """Kills the process group `proc` leads at once (SIGKILL) and reaps `proc`."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()
