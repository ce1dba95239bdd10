"""The one table layout of fleet's reports (`fleet drift`, `fleet pending`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rich.console import Console
from rich.table import Table


def print_table(
    console: Console, title: str, columns: Sequence[str], rows: Iterable[Sequence[str]], empty: str
) -> bool:
    """Print the rows as a table, or ``empty`` when there are none; whether there were rows."""
    rows = list(rows)
    if not rows:
        console.print(empty, highlight=False)
        return False
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column, overflow="fold")  # whole ids and ARNs, wrapped, never cut
    for row in rows:
        table.add_row(*row)
    console.print(table)
    return True
