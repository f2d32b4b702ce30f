"""Writing a figure: the provenance footer (source files, decks) at the bottom, tight layout, PNG."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def save_png(fig, path, footer: str, fontsize: float = 6, rect=(0, 0.04, 1, 1), dpi: int = 120):
    """Put ``footer`` (what the figure was made from) under ``fig``, save it as PNG at ``path``, close it."""
    fig.text(0.01, 0.01, footer, fontsize=fontsize)
    fig.tight_layout(rect=rect)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path
