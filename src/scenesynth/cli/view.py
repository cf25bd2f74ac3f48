"""``scenesynth view``: a static HTML viewer of a run (opens from disk; ``--serve`` optional)."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

_out = Console(highlight=False)
_err = Console(stderr=True, highlight=False)


def view(
    run: Annotated[Path, typer.Argument(help="Run folder (generate or synth).")],
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Site folder (default: RUN/site).")
    ] = None,
    images: Annotated[
        list[Path] | None,
        typer.Option("--images", help="Extra folder to find the images in (repeatable)."),
    ] = None,
    serve: Annotated[
        bool, typer.Option("--serve", help="Also serve the site on 127.0.0.1 until Ctrl-C.")
    ] = False,
    port: Annotated[int, typer.Option(help="Port for --serve.")] = 8000,
) -> None:
    """Write a self-contained HTML viewer: images with boxes, programs, filters, failures."""
    from scenesynth.rundata import RunData, RunError
    from scenesynth.view import build_site

    try:
        data = RunData(run, image_dirs=list(images or []))
        site = out or run / "site"
        report = build_site(data, site)
    except RunError as exc:
        _err.print(f"[red]error:[/red] {exc}", soft_wrap=True)
        raise typer.Exit(2) from None
    if report.samples == 0:
        _err.print(f"[red]error:[/red] {run}: the run has no samples to show")
        raise typer.Exit(1)
    _out.print(
        f"{report.samples} samples, {report.graphs} scene graphs, {report.failures} failures "
        f"-> {site / 'index.html'} ({report.data_bytes / 1e6:.1f} MB of data in pages, "
        f"largest file {report.largest_file_bytes / 1e3:.0f} kB, {report.seconds:.1f}s)"
    )
    if report.missing_graphs:
        _out.print(f"[yellow]{report.missing_graphs} image(s) without a scene graph[/yellow]")
    if report.missing_images:
        _out.print(f"[yellow]{report.missing_images} image file(s) not found; add --images "
                   f"DIR[/yellow]")
    if serve:
        _serve(site, port)


def _serve(site: Path, port: int) -> None:
    import functools
    import http.server

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    with http.server.ThreadingHTTPServer(("127.0.0.1", port), handler) as server:
        _out.print(f"serving http://127.0.0.1:{port}/ (Ctrl-C to stop)")
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever()


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command()(view)
