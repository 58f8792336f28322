"""Checks for the exercises of notebook 18 (troubleshooting)."""
from helpers.exercises import check_choice, check_number

CAUSES = ("out of GPU memory", "llama.cpp built without GPU support", "file truncated", "llama.cpp too old",
          "driver too old")


def check_cause(answer, expected: str):
    """18 ex. 1-2: the cause behind a symptom text."""
    return check_choice(answer, expected, allowed=CAUSES, hints={
        "out of GPU memory": "Nothing was allocated yet: read the message again, what does it say is missing?",
        "file truncated": "A truncated file fails with 'not within the file bounds'; this message names something else.",
        "llama.cpp too old": "An old llama.cpp fails with 'unknown model architecture'; this message is about the GPU.",
        "driver too old": "A driver problem mentions the CUDA driver version; this message is about the build.",
        "llama.cpp built without GPU support": "A CPU-only build ignores the GPU silently with a warning; "
                                               "this message is a hard failure.",
    })


def check_layers_that_fit(answer, expected: int, n_layers: int):
    """18 ex. 3: the largest n_gpu_layers whose GPU share fits."""
    return check_number(answer, expected, rel_tol=0.0, unit="layers", mistakes=[
        (n_layers + 1, "That is every block plus the output layer: it is what did NOT fit."),
        (n_layers, "All blocks on the GPU still need their KV cache and the compute buffer: look at the plan."),
    ])
