"""Part 5, memory and "will it run?": a model's shape, GGUF size tensor by tensor, weights + KV
cache + compute buffer, and the verdict for a GPU.
"""
