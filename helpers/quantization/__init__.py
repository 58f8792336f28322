"""Part 4, number formats and quantization: bits of a float, GGUF block formats byte-exact
against llama.cpp, and what quantization costs.
"""
