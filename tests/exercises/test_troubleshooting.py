"""Exercise checks of notebook 18."""
from helpers.exercises.troubleshooting import check_cause, check_layers_that_fit


def test_cause():
    assert check_cause("llama.cpp built without GPU support", "llama.cpp built without GPU support")
    assert "bounds" in check_cause("file truncated", "out of GPU memory").message
    assert "unknown model architecture" in check_cause("llama.cpp too old", "file truncated").message
    assert "not one of" in check_cause("cosmic rays", "file truncated").message


def test_layers_that_fit():
    assert check_layers_that_fit(46, 46, 80)
    assert "did NOT fit" in check_layers_that_fit(81, 46, 80).message
    assert "KV cache" in check_layers_that_fit(80, 46, 80).message
    assert "too low" in check_layers_that_fit(10, 46, 80).message
