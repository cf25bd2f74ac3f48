"""``scenesynth generators ...``: inspect the question generators."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

generators_app = typer.Typer(
    name="generators", help="Inspect the question generators.", no_args_is_help=True
)


@generators_app.command("list")
def list_generators(
    family: str | None = typer.Option(None, help="Only generators of this family."),
    multi: bool | None = typer.Option(
        None, "--multi/--single", help="Only multi-image (--multi) or single-image (--single)."
    ),
) -> None:
    """List every registered generator: name, family, images, needed fields, example."""
    import scenesynth.generators  # noqa: F401  (fills the registry)
    from scenesynth.generators.base import registered

    table = Table(title="scenesynth generators")
    for column in ("name", "family", "images", "needs", "answer", "example"):
        table.add_column(column, overflow="fold")
    shown = 0
    for name, cls in sorted(registered().items()):
        spec = cls.spec
        if family is not None and spec.family != family:
            continue
        if multi is not None and spec.multi_image != multi:
            continue
        table.add_row(
            name,
            spec.family,
            "multi" if spec.multi_image else "single",
            ", ".join(sorted(str(n) for n in spec.needs)),
            str(spec.answer_type),
            spec.example,
        )
        shown += 1
    console = Console(width=200)
    console.print(table)
    console.print(f"{shown} generator(s)")


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.add_typer(generators_app, name="generators")
