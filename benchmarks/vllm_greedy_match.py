"""vLLM against llama.cpp on the same weights: do their greedy tokens agree?

The course's chat model (SmolLM2-135M-Instruct, Q4_1 GGUF) is converted to a Hugging Face folder
(helpers.serving.vllm_weights: the Q4_1 values dequantized to float32) and served by vLLM twice, in
bfloat16 (the course's setting) and in float32. Each server completes --prompts plain prompts greedily
(temperature 0) for --tokens tokens; llama-cpp-python does the same on the GGUF itself. The table gives,
per prompt, whether the prompt's tokens agree and how many generated tokens agree before the first
difference. The weights are the same numbers everywhere; the arithmetic is not: llama.cpp multiplies
Q4_1 blocks with activations rounded to 8 bits (Q8_1), vLLM in bfloat16 or float32.

    .venv/bin/python benchmarks/vllm_greedy_match.py [--tokens 32]

Needs vLLM's environment (make vllm-env). Writes benchmarks/results/vllm_greedy_match.md.
"""
import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from llama_cpp import Llama  # noqa: E402

from helpers.course.report import report_header, write_report  # noqa: E402
from helpers.llm.chat_model import chat_model_path  # noqa: E402
from helpers.serving.client import post_json  # noqa: E402
from helpers.serving.server import ServerSettings, start_server  # noqa: E402
from helpers.serving.vllm_weights import hf_model_dir  # noqa: E402

PROMPTS = ("The capital of France is", "def fibonacci(n):", "Once upon a time, in a small village,",
           "The three primary colors are",
           "<|im_start|>user\nWhat is 2 plus 2?<|im_end|>\n<|im_start|>assistant\n")
ALIAS = "smollm2"
EOS_TOKEN_ID = 2  # <|im_end|>


def vllm_greedy(server, prompt: str, tokens: int) -> tuple[list, list]:
    """(prompt token ids, generated token ids without the end token) from vLLM's /v1/completions."""
    prompt_ids = post_json(f"{server.url}/tokenize", {"model": ALIAS, "prompt": prompt})["tokens"]
    reply = post_json(f"{server.base_url}/completions", {
        "model": ALIAS, "prompt": prompt, "max_tokens": tokens, "temperature": 0, "logprobs": 1,
        "return_tokens_as_token_ids": True})
    ids = [int(token.split(":")[1]) for token in reply["choices"][0]["logprobs"]["tokens"]]
    return prompt_ids, [i for i in ids if i != EOS_TOKEN_ID]


def llama_greedy(llama: Llama, prompt: str, tokens: int) -> tuple[list, list]:
    """(prompt token ids, generated token ids) from llama.cpp, greedy, stopping at the end token."""
    prompt_ids = llama.tokenize(prompt.encode(), add_bos=False, special=True)
    ids = []
    for token in llama.generate(prompt_ids, temp=0, top_k=1, reset=True):
        if token == llama.token_eos() or len(ids) == tokens:
            break
        ids.append(token)
    return prompt_ids, ids


def agreeing(a: list, b: list) -> int:
    """Tokens the two sequences share before their first difference."""
    return next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tokens", type=int, default=32)
    args = parser.parse_args()
    load = os.getloadavg()[0]
    started = time.monotonic()
    folder = hf_model_dir()
    convert_s = time.monotonic() - started
    llama = Llama(str(chat_model_path()), n_ctx=512, n_threads=2, verbose=False)
    reference = {p: llama_greedy(llama, p, args.tokens) for p in PROMPTS}
    results, ready_s = {}, {}
    for dtype in ("bfloat16", "float32"):
        settings = ServerSettings(folder, kind="vllm", model_alias=ALIAS, n_ctx=1024, extra_args=("--dtype", dtype))
        started = time.monotonic()
        with start_server(settings) as server:
            ready_s[dtype] = time.monotonic() - started
            results[dtype] = {p: vllm_greedy(server, p, args.tokens) for p in PROMPTS}
    lines = report_header(
        "vLLM and llama.cpp: greedy tokens on the same weights",
        f"python benchmarks/vllm_greedy_match.py --tokens {args.tokens}",
        [f"vLLM 0.32.0 (CPU) on {folder.name} (Q4_1 dequantized to float32)",
         "llama-cpp-python 0.3.36 on the GGUF", f"load average {load:.1f} at the start"])
    lines += [(f"Conversion: {convert_s:.0f} s" if convert_s >= 1 else "Conversion: done before (the folder existed)")
              + ". vLLM ready after: "
              + ", ".join(f"{dtype} {seconds:.0f} s" for dtype, seconds in ready_s.items()) + ".", "",
              "| prompt | same prompt tokens | bf16 = llama.cpp | f32 = llama.cpp | bf16 = f32 | tokens (bf16 / f32 / llama.cpp) |",
              "|---|---|---|---|---|---|"]
    for prompt in PROMPTS:
        (lp, lt), (bp, bt), (fp, ft) = reference[prompt], results["bfloat16"][prompt], results["float32"][prompt]
        lines.append(f"| {prompt!r} | {'yes' if lp == bp == fp else 'no'} | {agreeing(bt, lt)} | {agreeing(ft, lt)} | "
                     f"{agreeing(bt, ft)} | {len(bt)} / {len(ft)} / {len(lt)} |")
    lines += ["", "Each number: generated tokens that agree before the first difference.", ""]
    for prompt in PROMPTS:
        lines.append(f"- {prompt!r}")
        for name, ids in (("llama.cpp", reference[prompt][1]), ("vLLM bfloat16", results["bfloat16"][prompt][1]),
                          ("vLLM float32", results["float32"][prompt][1])):
            lines.append(f"  - {name}: {llama.detokenize(ids).decode(errors='replace')!r}")
    lines.append("")
    write_report("vllm_greedy_match", "\n".join(lines))


if __name__ == "__main__":
    main()
