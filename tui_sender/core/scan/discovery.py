"""Find the files a scan should read, and account for every other path it meets.

Inputs are any mix of files and folders. Folders give their direct files, and
with ``recursive=True`` their whole tree. What comes out is, for each path
met, either the path of a regular file to read or a :class:`SkippedFile`
saying why it will not be (broken link, FIFO, socket, device, unreadable
folder, link loop, folder reached twice). Whether a file is DICOM is not
decided here: that takes reading it (see :mod:`tui_sender.core.scan.dicom_header`,
which also catches the same file reached through two paths, because it gets
the file's identity from ``fstat`` for free).

Safety rules, each of which a real archive has broken in some tool:

* nothing is opened here, and special files are recognised from ``lstat`` /
  ``stat`` (or the directory entry's type), because opening a FIFO blocks;
* symbolic links are followed, to files and to folders, but every folder is
  listed at most once, keyed by ``(st_dev, st_ino)``, so loops end: a link
  back into a folder that is an ancestor on the walk is a ``LINK_LOOP``, a
  second way into a folder listed before is ``ALREADY_SEEN``;
* links are followed after the real entries of an input, so a file or folder
  is recorded under its real path when both lead to it;
* every ``OSError`` (permissions, a file or folder vanishing mid-scan, names
  the OS refuses) becomes an ``UNREADABLE`` record for that path alone;
* paths stay ``str``; names that are not valid UTF-8 keep their bytes as
  surrogate escapes (``os.fsdecode``), so they can be opened again later.

The walk is iterative (no recursion limit on deep trees) and lists each
folder's entries sorted by name, so results are reproducible.
"""

from __future__ import annotations

import errno
import os
import stat
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from tui_sender.core.model.catalog import SkippedFile, SkipReason

InputPath = str | bytes | os.PathLike[str] | os.PathLike[bytes]
"""What callers may pass: command-line strings, ``Path`` objects, raw bytes."""

_FolderKey = tuple[int, int]


@dataclass(frozen=True, slots=True)
class _Folder:
    """A folder waiting to be listed, with the folders above it on the walk."""

    path: str
    key: _FolderKey
    ancestors: frozenset[_FolderKey]


@dataclass(frozen=True, slots=True)
class _Link:
    """A symbolic link met in a folder, followed once the real entries are done."""

    path: str
    ancestors: frozenset[_FolderKey]


def as_path_str(path: InputPath) -> str:
    """A path as ``str``, non-UTF-8 bytes kept as surrogate escapes."""
    return os.fsdecode(os.fspath(path))


def discover(paths: Iterable[InputPath], *, recursive: bool) -> Iterator[str | SkippedFile]:
    """Yield each regular file under ``paths`` (as a path) or a skip record.

    Every input and every entry of a listed folder appears once, except the
    entries of folders skipped as a whole (unreadable, loop, seen before),
    and sub-folders when ``recursive`` is false.
    """
    walk = _Walk(recursive)
    for given in paths:
        yield from walk.input(as_path_str(given))


class _Walk:
    """State shared by all inputs of one scan: the folders listed so far."""

    def __init__(self, recursive: bool) -> None:
        self.recursive = recursive
        self.listed: dict[_FolderKey, str] = {}

    def input(self, path: str) -> Iterator[str | SkippedFile]:
        """Walk one command-line input, whatever it is."""
        try:
            st = os.lstat(path)
        except OSError as exc:
            yield SkippedFile(path, SkipReason.UNREADABLE, _error_text(exc))
            return
        if stat.S_ISLNK(st.st_mode):
            yield from self._follow(_Link(path, frozenset()), top=True)
        elif stat.S_ISDIR(st.st_mode):
            yield from self._tree(_Folder(path, (st.st_dev, st.st_ino), frozenset()))
        elif stat.S_ISREG(st.st_mode):
            yield path
        else:
            yield _special(path, st.st_mode)

    def _tree(self, root: _Folder) -> Iterator[str | SkippedFile]:
        """List ``root`` (and, if recursive, everything below), links last."""
        folders = [root]
        links: deque[_Link] = deque()
        while folders or links:
            if folders:
                yield from self._list(folders.pop(), folders, links)
            else:
                yield from self._follow(links.popleft(), top=False, folders=folders)

    def _list(
        self, folder: _Folder, folders: list[_Folder], links: deque[_Link]
    ) -> Iterator[str | SkippedFile]:
        """Yield a folder's files; queue its sub-folders and links."""
        first = self.listed.get(folder.key)
        if first is not None:
            if folder.key in folder.ancestors:
                yield SkippedFile(folder.path, SkipReason.LINK_LOOP, f"leads back to {first!r}")
            else:
                yield SkippedFile(folder.path, SkipReason.ALREADY_SEEN, f"same folder as {first!r}")
            return
        self.listed[folder.key] = folder.path
        try:
            with os.scandir(folder.path) as listing:
                entries = sorted(listing, key=lambda entry: entry.name)
        except OSError as exc:
            yield SkippedFile(folder.path, SkipReason.UNREADABLE, _error_text(exc))
            return
        inside = folder.ancestors | {folder.key}
        subfolders: list[_Folder] = []
        for entry in entries:
            try:
                if entry.is_symlink():
                    links.append(_Link(entry.path, inside))
                elif entry.is_dir(follow_symlinks=False):
                    if self.recursive:
                        st = entry.stat(follow_symlinks=False)
                        subfolders.append(_Folder(entry.path, (st.st_dev, st.st_ino), inside))
                elif entry.is_file(follow_symlinks=False):
                    yield entry.path
                else:
                    yield _special(entry.path, entry.stat(follow_symlinks=False).st_mode)
            except OSError as exc:
                yield SkippedFile(entry.path, SkipReason.UNREADABLE, _error_text(exc))
        # The stack pops from the end: push in reverse to walk in name order.
        folders.extend(reversed(subfolders))

    def _follow(
        self, link: _Link, *, top: bool, folders: list[_Folder] | None = None
    ) -> Iterator[str | SkippedFile]:
        """Resolve a symbolic link and treat its target like any entry."""
        try:
            st = os.stat(link.path)
        except OSError as exc:
            if exc.errno in (errno.ENOENT, errno.ENOTDIR):
                yield SkippedFile(link.path, SkipReason.BROKEN_LINK, _error_text(exc))
            elif exc.errno == errno.ELOOP:
                yield SkippedFile(link.path, SkipReason.LINK_LOOP, "chain of links never ends")
            else:
                yield SkippedFile(link.path, SkipReason.UNREADABLE, _error_text(exc))
            return
        if stat.S_ISREG(st.st_mode):
            yield link.path
        elif stat.S_ISDIR(st.st_mode):
            target = _Folder(link.path, (st.st_dev, st.st_ino), link.ancestors)
            if top:
                yield from self._tree(target)
            elif self.recursive and folders is not None:
                folders.append(target)
        else:
            yield _special(link.path, st.st_mode)


def _special(path: str, mode: int) -> SkippedFile:
    if stat.S_ISFIFO(mode):
        kind = "FIFO"
    elif stat.S_ISSOCK(mode):
        kind = "socket"
    elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        kind = "device"
    else:
        kind = f"file type {stat.S_IFMT(mode):o}"
    return SkippedFile(path, SkipReason.SPECIAL_FILE, kind)


def _error_text(exc: OSError) -> str:
    """The OS message without the path (the skip record carries the path)."""
    return exc.strerror or str(exc)
