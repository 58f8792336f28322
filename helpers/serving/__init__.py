"""14 · Serve a model: an OpenAI-compatible server on this machine, its clients, and its load.

``server`` starts and always stops a real server process on loopback, ``client`` speaks the HTTP API
with nothing but the standard library, ``load`` times concurrent clients, ``sizing`` turns the
measured queueing into learners per machine, ``api_differences`` reads the sourced table of what
each runtime's API honours. The operator's controls of llama-server: ``slots`` (the context each
parallel slot gets), ``metrics`` (Prometheus /metrics as a time series), ``prompt_cache``,
``speculative`` (draft models, n-gram lookup and their break-even), ``silent_failures``.
vLLM runs from an environment of its own (``vllm_env``) on the chat model converted to a Hugging
Face folder (``vllm_weights``, ``gguf_to_hf``); ``constraint_fields`` shows when a server accepts an
output constraint and then ignores it.
"""
