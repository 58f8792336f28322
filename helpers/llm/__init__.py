"""Part 3, running a local LLM with llama.cpp: load safely, fit in memory, prompts and chat,
context length, and the same settings in other runtimes.
"""
