"""``ganforge verify FILE...``: is the ganforge watermark in these files, and which model made them?

Each file goes to the wing that marks files of its kind (by suffix: images, sound). Exit status: 0 when
every file carries the mark, 1 when at least one does not (or the command itself was misused), 2 when
at least one file could not be read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from ganforge.core import registry
from ganforge.errors import GanforgeError

out_console = Console(highlight=False, soft_wrap=True)


def verify(
    files: Annotated[
        list[Path], typer.Argument(help="Files (or folders of them) to check: images, sound clips.")
    ],
    runs: Annotated[
        Path | None, typer.Option(help="Folder of run directories: name the run a found mark belongs to.")
    ] = None,
) -> None:
    """Check files for the ganforge watermark and synthetic label: one line per file.

    Exit status: 0 every file is marked, 1 at least one is not, 2 a file is not readable.
    """
    by_suffix = {s: w for w in registry.wings() for s in w.verify_suffixes}
    if runs is not None and not runs.is_dir():
        raise GanforgeError(f"--runs {runs}: not a directory")
    known: dict[str, str] = {}
    for wing in {id(w): w for w in by_suffix.values()}.values():
        known |= wing.marked_runs(runs) if runs is not None else {}
    paths = _expand(files, by_suffix)
    if not paths:
        raise GanforgeError("no files to check")
    status = 0
    markers = list({id(w): w for w in by_suffix.values()}.values())
    fallback = markers[0] if len(markers) == 1 else None  # one kind marks files: it reads any file named
    for path in paths:
        wing = by_suffix.get(path.suffix.lower(), fallback)
        if wing is None:
            line, code = f"{escape(str(path))}: [red]error[/]: not a kind of file ganforge marks", 2
        else:
            line, code = wing.verify_file(path, known, runs is not None)
        out_console.print(line)
        status = max(status, code) if code else status
    raise typer.Exit(status)


def _expand(paths: list[Path], by_suffix: dict) -> list[Path]:
    """Files as given; a folder stands for its files of a kind ganforge marks."""
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out += sorted(q for q in p.iterdir() if q.suffix.lower() in by_suffix)
        else:
            out.append(p)
    return out
