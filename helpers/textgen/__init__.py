"""Parts 1-2, what generative models are and how text generation works: a bigram model and
next-token sampling, in numpy.
"""
