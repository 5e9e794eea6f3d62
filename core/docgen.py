"""Generate the reference pages that must never drift from the code.

``python -m creatorrank.core.docgen`` rewrites docs/FEATURES.md (from the feature specs) and
docs/CLI.md (from the command line's own help); a test fails when the committed pages differ.
"""

from __future__ import annotations

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent.parent / "docs"


def features_md() -> str:
    """The feature catalogue as Markdown, one table per family."""
    from ..features.specs import CATALOGUE, FAMILIES, FEATURE_SET_VERSION

    lines = [
        "# Feature catalogue",
        "",
        "Generated from `features/specs.py` by `python -m creatorrank.core.docgen`; do not edit.",
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

    from ..cli import app

    group = typer.main.get_command(app)
    lines = [
        "# Command-line reference",
        "",
        "Generated from the CLI by `python -m creatorrank.core.docgen`; do not edit.",
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


PAGES = {"FEATURES.md": features_md, "CLI.md": cli_md}


def main() -> int:
    from .io import write_text

    for name, make in PAGES.items():
        write_text(DOCS / name, make() + "\n")
        print(f"wrote {DOCS / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
