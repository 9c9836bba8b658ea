"""Writes :class:`~poolbench.report.tables.Table` as Markdown, LaTeX, CSV and rich."""

from __future__ import annotations

import csv
import io

from rich.console import Console
from rich.markup import escape
from rich.table import Table as RichTable

from poolbench.report.tables import Table

LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}

LATEX_SYMBOLS = {"±": r"$\pm$", "—": "--", "†": r"$^\dagger$", "‡": r"$^\ddagger$"}


def _bold_if(table: Table, row: str, col: str, bold: str, quote=str) -> str:
    text = quote(table.text(row, col))
    return bold.format(text) if (row, col) in table.best else text


def to_markdown(table: Table) -> str:
    header = [table.corner, *table.cols]
    lines = [
        f"**{table.title}**",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join([":---"] + ["---:"] * len(table.cols)) + "|",
    ]
    for row in table.rows:
        cells = [_bold_if(table, row, c, "**{}**") for c in table.cols]
        lines.append("| " + " | ".join([row, *cells]) + " |")
    return "\n".join(lines + ["", table.note, ""])


def latex_escape(text: str) -> str:
    out = "".join(LATEX_SPECIAL.get(ch, ch) for ch in text)
    for symbol, tex in LATEX_SYMBOLS.items():
        out = out.replace(symbol, tex)
    return out


def to_latex(table: Table) -> str:
    """A booktabs ``table`` environment; the note is the caption."""
    lines = [
        r"% \usepackage{booktabs}",
        r"\begin{table}[t]",
        r"\centering",
        rf"\caption{{{latex_escape(table.title)}. {latex_escape(table.note)}}}",
        rf"\label{{tab:{table.name}}}",
        r"\begin{tabular}{l" + "r" * len(table.cols) + "}",
        r"\toprule",
        " & ".join(latex_escape(h) for h in [table.corner, *table.cols]) + r" \\",
        r"\midrule",
    ]
    for row in table.rows:
        cells = []
        for col in table.cols:
            text = latex_escape(table.text(row, col))
            cells.append(rf"\textbf{{{text}}}" if (row, col) in table.best else text)
        lines.append(" & ".join([latex_escape(row), *cells]) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}", ""]
    return "\n".join(lines)


def to_csv(table: Table) -> str:
    """The displayed cells; ``summary.csv`` holds the same numbers unformatted."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([table.corner, *table.cols])
    for row in table.rows:
        writer.writerow([row, *(table.text(row, c) for c in table.cols)])
    return buf.getvalue()


def to_rich(table: Table) -> RichTable:
    out = RichTable(title=escape(table.title), title_justify="left")
    out.add_column(table.corner, no_wrap=True)
    for col in table.cols:
        out.add_column(col, justify="right", no_wrap=True)
    for row in table.rows:
        cells = [
            _bold_if(table, row, c, "[bold green]{}[/]", escape) for c in table.cols
        ]
        out.add_row(escape(row), *cells)
    return out


def print_tables(tables: list[Table], console: Console) -> None:
    for table in tables:
        console.print(to_rich(table))
        console.print(table.note, markup=False, style="dim")
        console.print()
