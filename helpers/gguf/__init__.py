"""The GGUF file format, read and written in one place: the header reader, llama.cpp's quantizer,
and random-weight files of real architectures.
"""
