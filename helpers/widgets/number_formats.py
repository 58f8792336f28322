"""Widget for notebook 06: type a value, see its bits and its rounding error in fp32, fp16 and bf16."""
import html

import ipywidgets as widgets

from helpers.quantization.number_formats import FLOATS, bit_fields, relative_error, round_to_format, spacing


def bits_table_html(value: float) -> str:
    """An HTML table: sign | exponent | mantissa bits, stored value and relative error per format."""
    rows = []
    for name in FLOATS:
        sign, exponent, mantissa = bit_fields(value, name)
        stored = float(round_to_format(value, name))
        error = relative_error([value], [stored])[0]
        rows.append(
            f"<tr><td>{name}</td><td style='color:#c0392b'>{sign}</td><td style='color:#2471a3'>{exponent}</td>"
            f"<td style='color:#1e8449'>{mantissa}</td><td>{stored:.9g}</td><td>{error:.2e}</td>"
            f"<td>{float(spacing(stored if stored else value, name)):.3g}</td></tr>")
    head = ("<tr><th>format</th><th>sign</th><th>exponent</th><th>mantissa</th><th>stored value</th>"
            "<th>relative error</th><th>gap to next value</th></tr>")
    return f"<p>value typed: {html.escape(repr(value))}</p><table>{head}{''.join(rows)}</table>"


def bits_explorer(value: float = 0.1):
    """A number box and an exponent slider (value = mantissa * 10**exponent) driving the bits table."""
    mantissa = widgets.FloatText(value=value, description="value")
    exponent = widgets.IntSlider(value=0, min=-9, max=6, description="x 10^")
    table = widgets.HTML()

    def redraw(_=None):
        table.value = bits_table_html(mantissa.value * 10.0 ** exponent.value)

    for control in (mantissa, exponent):
        control.observe(redraw, names="value")
    redraw()
    return widgets.VBox([widgets.HBox([mantissa, exponent]), table])
