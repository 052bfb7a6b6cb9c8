"""Human-readable `rdsbox plan`."""

from __future__ import annotations

from typing import Any

import yaml
from rich.markup import escape
from rich.table import Table

from sandbox.cli.render import console


def render_plan(document: dict[str, Any]) -> None:
    """The configuration as YAML, the components, what was ignored, the warnings."""
    out = console()
    if document["source"] == "terraform":
        out.print(f"[bold]Topology from Terraform[/bold] ({', '.join(document['files'])})")
    else:
        out.print("[bold]Topology from the configuration[/bold]")
    out.print(yaml.safe_dump(document["config"], sort_keys=False).rstrip(), markup=False)
    table = Table(title="Components `rdsbox up` starts", title_justify="left")
    for column in ("name", "kind", "role", "port"):
        table.add_column(column)
    for c in document["components"]:
        table.add_row(escape(c["name"]), c["kind"], c["role"], str(c["port"]))
    out.print(table)
    if document["ignored"]:
        # Plain lines, not a table: file paths and addresses are too wide for columns.
        out.print(f"[bold]Ignored[/bold] ({len(document['ignored'])}):")
        for i in document["ignored"]:
            what = i["resource"] + (f" {i['attribute']}" if i["attribute"] else "")
            out.print(
                f"  {escape(i['file'])}:{i['line']}  {escape(what)}  ({escape(i['reason'])})",
                soft_wrap=True,
            )
    for line in document["warnings"]:
        out.print(f"[yellow]warning:[/yellow] {escape(line)}", soft_wrap=True)
    if document["tls_requested"]:
        out.print(
            f"[bold]TLS[/bold] on ({', '.join(document['tls_requested'])}): those listeners "
            "accept only TLS; `rdsbox env` names the sandbox CA for clients to verify them."
        )
