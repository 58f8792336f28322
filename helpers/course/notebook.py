"""What every notebook runs first: offline mode, the quick/full switch, seeds and plot style."""
import os
import random

import numpy as np

from helpers.course.offline import block_network, set_hub_offline

QUICK_ENV_VARIABLES = ("COURSE_QUICK", "CI")


def resolve_quick(quick) -> bool:
    """The notebook's QUICK parameter as a bool.

    ``True``/``False`` are kept. ``None`` means "decide from the environment": quick when
    COURSE_QUICK or CI is set to a true value (1, true, yes), full otherwise.
    """
    if isinstance(quick, bool):
        return quick
    if quick is not None:
        raise ValueError(f"QUICK must be True, False or None, got {quick!r}")
    for name in QUICK_ENV_VARIABLES:
        if os.environ.get(name, "").strip().lower() in {"1", "true", "yes"}:
            return True
    return False


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and (when installed) PyTorch's random generators."""
    random.seed(seed)
    np.random.seed(seed)
    try:
        import torch
    except ImportError:
        return
    torch.manual_seed(seed)


def use_course_plot_style() -> None:
    """Readable, deterministic matplotlib defaults (fixed size and DPI, labelled grids)."""
    import matplotlib

    matplotlib.rcParams.update(
        {
            "figure.figsize": (7.5, 4.0),
            "figure.dpi": 90,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "svg.hashsalt": "course",
        }
    )


def show_whole_table_cells() -> None:
    """Tables show every cell in full: pandas would otherwise cut a long cell to 50 characters and "...",
    often just where a verdict or a message says what matters."""
    import pandas as pd

    pd.set_option("display.max_colwidth", None)


def run_banner(quick: bool) -> str:
    """One line that says which run produced the outputs below it: quick (shortened) or full."""
    if quick:
        return ("QUICK run: shortened settings, the run that made the outputs shown. "
                "For the full run set QUICK = False in the parameters cell and run all cells.")
    return "FULL run: every setting at full size (slower; numbers differ from the quick run whose outputs are shown)."


def start_notebook(quick=None, seed: int = 0) -> bool:
    """Prepare a notebook kernel: offline, seeded, styled; print the run banner. Returns the resolved QUICK flag."""
    set_hub_offline()
    block_network()
    seed_everything(seed)
    use_course_plot_style()
    show_whole_table_cells()
    quick = resolve_quick(quick)
    print(run_banner(quick))
    return quick
