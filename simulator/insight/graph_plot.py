"""A picture of a small block's dependency graph (`pevmsim explain --graph PATH.png`).

Each transaction with a dependency or a dependent is a node labelled by its index (the
independent ones are only counted), placed in the column of its depth
(the longest chain of dependencies before it: every node of a column could run at
once) and ordered by index within it; its colour says how often the run executed it.
An arrow goes from each transaction to every transaction that read its writes,
coloured by the location that induced it (the one inducing the most edges, when
several did): the locations inducing the most edges get a colour and a name in the
legend, the rest are grey.

Invariant: the picture is drawn from the final incarnations' read sets alone (the same
graph the dependency bound uses). MAX_TXS is the largest block whose picture stays
readable; `pevmsim explain --graph` refuses larger ones.
"""

from __future__ import annotations

import textwrap

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import FancyArrowPatch  # noqa: E402

from .whatif import induced_edges  # noqa: E402

MAX_TXS = 120
COLOURED = 6  # locations with their own colour
PALETTE = ("#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")
OTHER = "#b0b0b0"


def draw(incarnations, name, executions: list, path, title: str) -> None:
    """Write the dependency graph of `incarnations` to `path` (PNG); `name(location)`
    names a location, `executions[tx]` is how often the run executed tx."""
    size = len(incarnations)
    by_location = induced_edges(incarnations)
    ranked = sorted(by_location, key=lambda location: (-len(by_location[location]),
                                                       repr(location)))
    colours = {location: PALETTE[i] for i, location in enumerate(ranked[:COLOURED])}
    edges: dict = {}  # (writer, reader) -> colour of its highest-ranked location
    for location in reversed(ranked):
        for edge in by_location[location]:
            edges[edge] = colours.get(location, OTHER)
    depth = [0] * size
    for writer, reader in sorted(edges, key=lambda edge: edge[1]):
        depth[reader] = max(depth[reader], depth[writer] + 1)
    linked = {tx for edge in edges for tx in edge}
    isolated = [tx for tx in range(size) if tx not in linked]
    columns: dict = {}
    for tx in sorted(linked):
        columns.setdefault(depth[tx], []).append(tx)
    position = {tx: (column, -row) for column, members in columns.items()
                for row, tx in enumerate(members)}
    tallest = max((len(members) for members in columns.values()), default=1)
    figure, ax = plt.subplots(figsize=(min(max(3 + 0.45 * len(columns), 6), 40),
                                       min(max(2 + 0.32 * tallest, 4), 40)))
    for (writer, reader), colour in sorted(edges.items(), key=lambda kv: kv[1] != OTHER):
        ax.add_patch(FancyArrowPatch(position[writer], position[reader],
                                     arrowstyle="-|>", mutation_scale=7, lw=0.8,
                                     color=colour, alpha=0.8, shrinkA=7, shrinkB=7,
                                     connectionstyle="arc3,rad=0.15", zorder=1))
    most = max(executions, default=1)
    cmap = plt.get_cmap("Reds")
    for tx, (x, y) in position.items():
        shade = 0.15 + 0.75 * (executions[tx] - 1) / max(most - 1, 1)
        ax.scatter([x], [y], s=260, color=cmap(shade), edgecolor="black", lw=0.5, zorder=2)
        ax.annotate(str(tx), (x, y), ha="center", va="center", fontsize=6, zorder=3)
    shown = set(edges.values())  # an edge takes the colour of its first location
    handles = [Line2D([], [], color=colours[location], lw=2, label=name(location))
               for location in ranked[:COLOURED] if colours[location] in shown]
    if OTHER in shown:
        handles.append(Line2D([], [], color=OTHER, lw=2, label="other locations"))
    if handles:
        ax.legend(handles=handles, fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1),
                  frameon=False, title="dependency induced by", title_fontsize=7)
    ax.set_xlim(-0.7, len(columns) - 0.3)
    ax.set_ylim(-tallest + 0.3, 0.7)
    ax.set_yticks([])
    ax.set_xticks(range(len(columns)))
    ax.set_xlabel("depth: the longest chain of dependencies before a transaction "
                  "(a column could run at once)")
    independent = (f"; {len(isolated)} independent transactions not drawn"
                   if isolated else "")
    ax.set_title("\n".join(textwrap.wrap(title, 110)) + "\nnode: transaction index, darker "
                 f"red = executed more often (up to {most}x){independent}", fontsize=9)
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    figure.tight_layout()
    figure.savefig(path, format="png", dpi=110, metadata={"Software": None})
    plt.close(figure)
