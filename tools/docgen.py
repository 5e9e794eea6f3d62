"""Generate the reference pages that must never drift from the code.

``python -m tools.docgen`` (from the repository root; ``make docs``) rewrites docs/FEATURES.md
(from the feature specs), docs/CLI.md (from the command line's own help) and
docs/DATA_CONTRACT.md (tables from ``data/contract.py``, prose from docs/src/DATA_CONTRACT.md);
a test fails when the committed pages differ. It lives outside the package: an installed
creatorrank never writes into its own folder.
"""

from __future__ import annotations

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent.parent / "docs"
SOURCES = DOCS / "src"
COMMAND = "python -m tools.docgen"
TABLES_MARKER = "<!-- contract tables: generated here from data/contract.py by python -m tools.docgen -->"


def features_md() -> str:
    """The feature catalogue as Markdown, one table per family."""
    from creatorrank.features.specs import CATALOGUE, FAMILIES, FEATURE_SET_VERSION

    lines = [
        "# Feature catalogue",
        "",
        f"Generated from `features/specs.py` by `{COMMAND}`; do not edit.",
        "",
        f"Feature-set version: `{FEATURE_SET_VERSION}` ({len(CATALOGUE)} features).",
        "",
        "Every feature of a decision at time T uses only facts known strictly before T",
        "(see [DATA_CONTRACT.md](DATA_CONTRACT.md)). Direction: `+` the model may only reward more,",
        "`-` only less (LightGBM monotone constraints), blank: unconstrained.",
        "",
    ]
    for family, title in FAMILIES.items():
        specs = [s for s in CATALOGUE if s.family == family]
        if not specs:
            continue
        lines += [f"## {title} (`{family}`)", "", "| feature | description | unit | window | direction |", "|---|---|---|---|---|"]
        for s in specs:
            window = f"{s.window_days} d" if s.window_days else "all history"
            direction = {1: "+", -1: "-"}.get(s.direction, "")
            lines.append(f"| `{s.name}` | {s.description} | {s.unit} | {window} | {direction} |")
        lines.append("")
    return "\n".join(lines)


def cli_md() -> str:
    """The command-line reference, built from the commands' own declarations."""
    import typer.main

    from creatorrank.cli import app

    group = typer.main.get_command(app)
    lines = [
        "# Command-line reference",
        "",
        f"Generated from the CLI by `{COMMAND}`; do not edit.",
        "`creatorrank COMMAND --help` prints the same.",
        "",
        "Exit codes (every command; see [RELIABILITY.md](RELIABILITY.md)): 0 success; 1 `validate` only,",
        "rows rejected; 2 bad input, usage or configuration (one line on stderr naming the file, row,",
        "column or option; nothing written); 3 refused by a quality gate (`promote`); 70 internal error",
        "(one line with the path of a log holding the traceback); 130 interrupted. Never a traceback,",
        "unless `creatorrank --debug COMMAND ...` (or `CREATORRANK_DEBUG=1`) asks for it.",
        "",
    ]
    for name, cmd in group.commands.items():  # declaration order
        usage = " ".join(
            (p.opts[0] + ("" if p.is_flag else f" {p.name.upper()}")) if p.required else f"[{p.opts[0]} ...]"
            for p in cmd.params
            if _is_option(p) and p.name != "help"
        )
        lines += [f"## creatorrank {name}", "", (cmd.help or "").strip(), "", f"`creatorrank {name} {usage}`", ""]
        lines += ["| option | type | default | description |", "|---|---|---|---|"]
        for p in cmd.params:
            if not _is_option(p) or p.name == "help":
                continue
            default = "required" if p.required else ("" if p.default is None else f"`{p.default}`")
            opts = ", ".join(f"`{o}`" for o in p.opts)
            lines.append(f"| {opts} | {_type_name(p)}{_range(p)} | {default} | {p.help or ''} |")
        lines.append("")
    return "\n".join(lines)


def _type_name(param) -> str:
    import typing

    annotation = param.type_descriptor.annotation
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    annotation = args[0] if args else annotation
    return {"Path": "path", "str": "text", "int": "integer", "float": "number", "bool": "flag"}.get(
        getattr(annotation, "__name__", str(annotation)), str(annotation)
    )


def _range(param) -> str:
    """The bounds the CLI enforces on a number (values outside are a usage error, exit 2)."""
    low, high = getattr(param, "min", None), getattr(param, "max", None)
    if low is not None and high is not None:
        return f" {low}..{high}"
    return f" >= {low}" if low is not None else (f" <= {high}" if high is not None else "")


def _is_option(param) -> bool:
    return getattr(param, "param_type_name", "") == "option"


def data_contract_md() -> str:
    """The data contract: prose from docs/src/DATA_CONTRACT.md, tables from ``CONTRACT``."""
    source = (SOURCES / "DATA_CONTRACT.md").read_text(encoding="utf-8")
    if source.count(TABLES_MARKER) != 1:
        raise ValueError(f"{SOURCES / 'DATA_CONTRACT.md'}: expected one {TABLES_MARKER!r} line")
    title, rest = source.split("\n", 1)
    note = (f"Generated by `{COMMAND}` from `data/contract.py` (the tables) and "
            "`docs/src/DATA_CONTRACT.md` (the prose); do not edit.")
    return f"{title}\n\n{note}\n{rest.replace(TABLES_MARKER, contract_tables_md())}".rstrip("\n")


def contract_tables_md() -> str:
    """One section per contract table: what a row is, its key, and every required column."""
    from creatorrank.data.contract import CONTRACT

    lines = []
    for table in CONTRACT.values():
        lines += [f"## {table.name}", "", f"{table.description} Key: `{table.key}`.", "",
                  "| column | type | null | meaning |", "|---|---|---|---|"]
        lines += [f"| {c.name} | {c.dtype} | {'yes' if c.nullable else 'no'} | {c.description} |"
                  for c in table.columns]
        lines.append("")
    return "\n".join(lines).rstrip("\n")


PAGES = {"FEATURES.md": features_md, "CLI.md": cli_md, "DATA_CONTRACT.md": data_contract_md}


def main() -> int:
    from creatorrank.core.io import write_text

    for name, make in PAGES.items():
        write_text(DOCS / name, make() + "\n")
        print(f"wrote {DOCS / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
