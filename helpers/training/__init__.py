"""Train the course's own tiny Llama: corpus, tokenizer, model, training loop, checkpoint and GGUF export.
"""
