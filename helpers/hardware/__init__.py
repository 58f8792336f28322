"""Part 6, hardware and speed: the learner's machine, the bandwidth roofline, llama.cpp speed
measured, offload, ranking devices and cost per token.
"""
