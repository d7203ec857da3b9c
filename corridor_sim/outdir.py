"""Output folders: what counts as a results folder, checks made before a run, and a lock per folder.

A results folder is recognised by its run record, `run.json`, which lists the files the run wrote.
`--force` replaces such a folder and nothing else: never a file, never the current folder (or one
holding it), never a folder without a run record or holding anything corridor_sim did not write
(`plot` and `report` add `figures/` and `report.html`, which are its own).

The output path is checked before simulating (creatable, writable, not under a file), so a bad
`--out` is found at once rather than after hours of simulation. A run then holds a lock on the
folder: a file `.<name>.lock` beside it, locked with `fcntl.flock` (released by the kernel if the
process dies, so a lock left by a killed run is never stale) and holding the writer's pid for the
message. A second run writing the same folder fails at once instead of both claiming success.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from corridor_sim.errors import UsageError

try:  # POSIX; elsewhere an exclusive create with a pid check (see OutputLock)
    import fcntl
except ImportError:  # pragma: no cover - not on Linux
    fcntl = None

RUN_RECORD = "run.json"
ADDED_LATER = {"figures", "report.html"}
"""Written into a results folder after the run made it (by `plot` and `report`)."""
WRITTEN_BEFORE_FILE_LISTS = {
    "run.json", "scenario.yaml", "summary.json", "flows.csv", "flows_by_replication.csv", "nodes.csv",
    "services.csv", "segments.csv", "queues.csv", "shipments.csv", "stages.csv.gz", "compare.csv",
    "compare.json", "variants", "summaries.json", "sweep.csv", "sweep_nodes.csv", "sweep.json",
    "capacity.csv", "capacity.json", "calibration.csv", "calibration.txt",
}
"""What results folders held before run.json listed its files (for folders written by older versions)."""


def read_run_record(folder: Path) -> dict | None:
    """The folder's run record, or None if it has none (or an unreadable one)."""
    try:
        record = json.loads((Path(folder) / RUN_RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def is_results_folder(folder: str | Path) -> bool:
    """Whether `folder` is a folder written by corridor_sim (it holds a readable run record)."""
    folder = Path(folder)
    return folder.is_dir() and read_run_record(folder) is not None


def require_results_folder(folder: str | Path) -> Path:
    """`folder`, if it is a results folder.

    Raises:
        UsageError: it does not exist or is not a results folder (nothing in it is touched).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise UsageError(f"no results folder {folder}")
    if read_run_record(folder) is None:
        raise UsageError(f"{folder} is not a corridor_sim results folder (it has no readable {RUN_RECORD}); "
                         f"nothing was changed")
    return folder


def _foreign_entries(folder: Path, record: dict) -> list[str]:
    files = record.get("files")
    ours = set(files) if isinstance(files, list) else WRITTEN_BEFORE_FILE_LISTS
    return sorted(p.name for p in folder.iterdir() if p.name not in ours | ADDED_LATER | {RUN_RECORD})


def _holds_cwd(path: Path) -> bool:
    try:
        here, there = Path.cwd().resolve(), path.resolve()
    except OSError:
        return False
    return here == there or there in here.parents


def check_out_dir(out: str | Path, force: bool = False) -> Path:
    """Check, before anything runs, that a results folder can be written at `out`.

    Raises:
        UsageError: the path is empty, lies under a file or in a folder that cannot be written, or
            exists and may not be replaced (no `force`; or not a results folder, a file, the
            current folder, or holding files corridor_sim did not write). Nothing is touched.
    """
    if not str(out).strip():
        raise UsageError("the results folder must be a path, not an empty string")
    out = Path(out)
    if out.exists() or out.is_symlink():
        if not force:
            raise UsageError(f"results folder {out} exists; use --force to replace it or --out to choose another")
        if not out.is_dir() or out.is_symlink():
            raise UsageError(f"{out} is not a folder; --force replaces only a corridor_sim results folder, "
                             f"so nothing was changed")
        if _holds_cwd(out):
            raise UsageError(f"{out} is the current folder or holds it; --force will not replace it")
        record = read_run_record(out)
        if record is None:
            raise UsageError(f"{out} is not a corridor_sim results folder (it has no readable {RUN_RECORD}); "
                             f"--force replaces only a results folder, so nothing was changed")
        foreign = _foreign_entries(out, record)
        if foreign:
            shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
            raise UsageError(f"results folder {out} holds files corridor_sim did not write ({shown}); "
                             f"--force will not delete them, so nothing was changed")
    # The nearest existing ancestor must be a folder we may write in (the folder, or its parents, are
    # created there).
    ancestor = out.parent if out.parent != Path("") else Path(".")
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise UsageError(f"cannot write results to {out}: {ancestor} is a file, not a folder")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise UsageError(f"cannot write results to {out}: no permission to write in {ancestor}")
    return out


_HELD: dict[Path, int] = {}  # lock files this process holds, with how many holders


class OutputLock:
    """An exclusive lock on one results folder, held by this process while it writes it.

    Re-entrant within a process (the command line holds it for the whole run, and writing the
    folder takes it again). Use as a context manager, or `acquire()` then `release()`.
    """

    def __init__(self, out: str | Path):
        out = Path(out)
        self.out = out
        self.path = (out.parent / f".{out.name}.lock").absolute()
        self._fd: int | None = None

    def acquire(self) -> OutputLock:
        """Take the lock.

        Raises:
            UsageError: another process holds it.
        """
        if self.path in _HELD:
            _HELD[self.path] += 1
            return self
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(10):  # retried only if the file was replaced between opening and locking it
            fd = self._open()
            if fd is not None:
                self._fd = fd
                _HELD[self.path] = 1
                return self
        raise UsageError(f"cannot lock results folder {self.out} ({self.path} keeps changing)")

    def _open(self) -> int | None:
        if fcntl is None:  # pragma: no cover - not on Linux
            return self._open_exclusive()
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.read(fd, 64).decode(errors="replace").strip()
            os.close(fd)
            raise UsageError(self._busy(holder)) from None
        try:
            same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:  # the holder released (and removed) it as we locked
            same = False
        if not same:
            os.close(fd)
            return None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        return fd

    def _open_exclusive(self) -> int | None:  # pragma: no cover - not on Linux
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            holder = self.path.read_text(errors="replace").strip()
            if holder.isdigit() and _alive(int(holder)):
                raise UsageError(self._busy(holder)) from None
            self.path.unlink(missing_ok=True)  # stale: its writer has died
            return None
        os.write(fd, f"{os.getpid()}\n".encode())
        return fd

    def _busy(self, holder: str) -> str:
        who = f"process {holder}" if holder.isdigit() else "another run"
        return (f"results folder {self.out} is being written by {who} (lock {self.path}); "
                f"wait for it to finish or choose another --out")

    def release(self) -> None:
        """Give the lock up (and remove its file once no holder in this process is left)."""
        count = _HELD.get(self.path, 0)
        if count > 1:
            _HELD[self.path] = count - 1
            return
        _HELD.pop(self.path, None)
        if self._fd is not None:
            self.path.unlink(missing_ok=True)  # before unlocking, so a waiter never locks a removed file
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> OutputLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def _alive(pid: int) -> bool:  # pragma: no cover - not on Linux
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
