"""Widget for notebook 02: the real next-token distribution of a model, reshaped by sampling knobs."""
import html

import ipywidgets as widgets
import numpy as np

from helpers.textgen.sampling import apply_temperature, min_p, repetition_penalty, softmax, top_k, top_p


def filtered_probabilities(logits, temperature: float, k: int, p: float, min_prob: float,
                           penalty: float = 1.0, previous_ids=()) -> np.ndarray:
    """Probabilities after penalty, top-k, top-p, min-p and temperature (zeros for removed tokens)."""
    z = repetition_penalty(logits, previous_ids, penalty)
    z = min_p(top_p(top_k(z, k), p), min_prob)
    return softmax(apply_temperature(z, temperature))


def distribution_html(logits, pieces, probs, n: int = 12) -> str:
    """An HTML table of the ``n`` most likely tokens: piece, probability before and after, a bar."""
    before = softmax(logits)
    rows = []
    for i in np.argsort(-before, kind="stable")[:n]:
        bar = "█" * int(round(40 * probs[i]))
        rows.append(f"<tr><td><code>{html.escape(repr(pieces[i]))}</code></td><td>{before[i]:.3f}</td>"
                    f"<td>{probs[i]:.3f}</td><td style='font-family:monospace'>{bar}</td></tr>")
    kept = int((probs > 0).sum())
    head = "<tr><th>token</th><th>p (raw)</th><th>p (after knobs)</th><th></th></tr>"
    return f"<p>{kept} of {len(probs)} tokens can still be drawn</p><table>{head}{''.join(rows)}</table>"


def sampling_explorer(logits, pieces, previous_ids=()):
    """Sliders for temperature, top-k, top-p, min-p and repetition penalty over fixed ``logits``."""
    temperature = widgets.FloatSlider(value=1.0, min=0.05, max=2.0, step=0.05, description="temperature")
    k = widgets.IntSlider(value=0, min=0, max=100, description="top-k (0=off)")
    p = widgets.FloatSlider(value=1.0, min=0.05, max=1.0, step=0.05, description="top-p")
    mp = widgets.FloatSlider(value=0.0, min=0.0, max=0.5, step=0.01, description="min-p")
    penalty = widgets.FloatSlider(value=1.0, min=1.0, max=2.0, step=0.05, description="rep. penalty")
    table = widgets.HTML()

    def redraw(_=None):
        probs = filtered_probabilities(logits, temperature.value, k.value, p.value, mp.value,
                                       penalty.value, previous_ids)
        table.value = distribution_html(logits, pieces, probs)

    for control in (temperature, k, p, mp, penalty):
        control.observe(redraw, names="value")
    redraw()
    return widgets.VBox([widgets.HBox([widgets.VBox([temperature, k, p]), widgets.VBox([mp, penalty])]), table])
