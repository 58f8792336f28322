"""The notebook-06 bits explorer redraws when a control moves (no browser needed)."""
from helpers.widgets.number_formats import bits_explorer, bits_table_html


def test_table_shows_each_format():
    text = bits_table_html(1.0)
    assert "fp32" in text and "fp16" in text and "bf16" in text and "01111" in text


def test_explorer_redraws():
    app = bits_explorer(0.1)
    (value, exponent), table = app.children[0].children, app.children[1]
    first = table.value
    exponent.value = 5  # 0.1e5 = 10000
    assert table.value != first and "10000" in table.value
    value.value = 7.0
    assert "700000" in table.value
