"""Prompt engineering, measured: what the model really receives, how likely it finds an intended
continuation, and output forced into a JSON shape by a grammar.

* A chat is turned into **one string** by the chat template stored in the GGUF (Jinja), rendered
  here exactly as llama-cpp-python's ``create_chat_completion`` renders it, then into token ids.
* The **log-probability** of a continuation is the sum over its tokens of ln p(token | everything
  before), in nats (natural log), computed from llama.cpp's logits. Prompts that start like the
  previous one reuse llama.cpp's KV cache for the shared start (**prefix reuse**), so scoring
  many continuations of one prompt costs little more than the prompt.
* A **GBNF grammar** restricts which tokens llama.cpp may sample, so the output always matches it.
  ``validate`` checks a parsed value against the small JSON Schema subset the course uses.
"""
import json
import re

import numpy as np

from helpers.llm.load import log_softmax

ROLES = ("system", "user", "assistant")


# --- chat templates -----------------------------------------------------------------------------

def check_messages(messages) -> list:
    """``messages`` as a list of {"role", "content"} dicts; ValueError naming the bad entry otherwise."""
    if not isinstance(messages, (list, tuple)) or not messages:
        raise ValueError(f"messages must be a non-empty list of {{'role', 'content'}} dicts, got {messages!r}")
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in ROLES or not isinstance(m.get("content"), str):
            raise ValueError(f"message {i} must be a dict with role in {ROLES} and string content, got {m!r}")
    return list(messages)


def render_chat(template: str, messages, bos_token: str = "<s>", eos_token: str = "</s>",
                add_generation_prompt: bool = True) -> str:
    """The exact text a chat template makes of ``messages`` (llama-cpp-python's Jinja renderer)."""
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    if not template:
        raise ValueError("this model has no chat template: use plain completion (create_completion)")
    formatter = Jinja2ChatFormatter(template, eos_token=eos_token, bos_token=bos_token,
                                    add_generation_prompt=add_generation_prompt)
    return formatter(messages=check_messages(messages)).prompt


def special_tokens(llm) -> tuple:
    """(BOS text, EOS text) of a loaded ``llama_cpp.Llama``, e.g. ("<s>", "</s>")."""
    def text(token_id):
        return llm.detokenize([token_id], special=True).decode("utf-8", "replace") if token_id >= 0 else ""

    return text(llm.token_bos()), text(llm.token_eos())


def render_chat_for(llm, messages, add_generation_prompt: bool = True) -> str:
    """The prompt text ``create_chat_completion`` builds for ``messages`` from the GGUF's template."""
    template = llm.metadata.get("tokenizer.chat_template", "")
    bos, eos = special_tokens(llm)
    return render_chat(template, messages, bos, eos, add_generation_prompt)


def prompt_token_ids(llm, text: str) -> list:
    """Token ids of rendered prompt ``text``; special tokens written as text (``<s>``) become their ids."""
    return llm.tokenize(text.encode("utf-8"), add_bos=False, special=True)


def token_pieces(llm, ids) -> list:
    """Each token id as the text piece it stands for (special tokens shown as written)."""
    return [llm.detokenize([i], special=True).decode("utf-8", "replace") for i in ids]


# --- few-shot prompts and continuation log-probabilities -------------------------------------------

def few_shot_prompt(examples, query: str, instruction: str = "", separator: str = "\n\n") -> str:
    """``instruction``, then each (input, output) example, then ``query`` waiting for its output.

    Each example is written as input + output; the query is written as the input alone, so the
    model's continuation is the answer. ``examples`` may be empty (zero-shot).
    """
    parts = [instruction] if instruction else []
    for i, example in enumerate(examples):
        if not (isinstance(example, (tuple, list)) and len(example) == 2
                and all(isinstance(x, str) for x in example)):
            raise ValueError(f"example {i} must be an (input, output) pair of strings, got {example!r}")
        parts.append(example[0] + example[1])
    parts.append(query)
    return separator.join(parts)


def eval_reusing_prefix(llm, ids) -> int:
    """Make ``llm`` hold token ``ids``, computing only what its KV cache does not hold yet.

    llama.cpp keeps the KV cache of the tokens it evaluated last; when ``ids`` start with the same
    tokens (a shared system prompt, the same few-shot examples), only the rest is computed, as
    llama-cpp-python's own ``generate`` does. Afterwards ``llm.scores[i]`` (with ``logits_all=True``)
    holds the logits after ``ids[:i + 1]`` for every position: a position's logits depend only on
    the tokens up to it, so those of a reused prefix stay right. Returns the number of tokens
    evaluated (0 when all were held).
    """
    ids = list(ids)
    if not ids:
        raise ValueError("ids must hold at least one token")
    if len(ids) > llm.n_ctx():
        raise ValueError(f"{len(ids)} tokens do not fit in n_ctx={llm.n_ctx()}")
    common = 0
    for held, wanted in zip(llm.input_ids[:llm.n_tokens].tolist(), ids):
        if held != wanted:
            break
        common += 1
    llm.n_tokens = common  # llm.eval drops the KV cache from here on
    if common < len(ids):
        llm.eval(ids[common:])
    return len(ids) - common


def continuation_logprob(llm, prompt: str, continuation: str, add_bos: bool = True, special: bool = False) -> dict:
    """ln p(continuation | prompt) under a ``llama_cpp.Llama`` made with ``logits_all=True`` (nats).

    Tokenizes prompt + continuation together (so the pieces are the ones the model would see) and
    sums the log-softmax of llama.cpp's logits at each continuation token. ``special=True`` reads
    special tokens written as text in the prompt (a rendered chat template's ``<|im_start|>``).
    The prompt's KV cache is reused from the previous call when it is the same (see
    :func:`eval_reusing_prefix`). Returns the total, the per-token values, the pieces, the
    probability exp(total) and the number of tokens evaluated. ValueError when the prompt's own
    tokens are not a prefix of the joint tokenization (end the prompt at a newline or a space).
    """
    if not continuation:
        raise ValueError("continuation must be a non-empty string")
    if getattr(llm, "_logits_all", True) is False:
        raise ValueError("continuation_logprob needs the logits of every position: load the model with logits_all=True")
    prompt_ids = llm.tokenize(prompt.encode("utf-8"), add_bos=add_bos, special=special)
    ids = llm.tokenize((prompt + continuation).encode("utf-8"), add_bos=add_bos, special=special)
    if ids[:len(prompt_ids)] != prompt_ids or len(ids) == len(prompt_ids):
        raise ValueError(f"prompt ending {prompt[-10:]!r} and continuation {continuation[:10]!r} merge into "
                         "one token at the boundary: end the prompt at a newline, or move its trailing space to the "
                         "start of the continuation (SentencePiece puts a space in front of the next word)")
    if len(ids) > llm.n_ctx():
        raise ValueError(f"prompt + continuation is {len(ids)} tokens, more than n_ctx={llm.n_ctx()}")
    start = len(prompt_ids)
    if start == 0:
        raise ValueError("the prompt must hold at least one token: the first token has no logits before it")
    evaluated = eval_reusing_prefix(llm, ids[:-1])  # the logits after the last token are not needed
    logp = log_softmax(np.array(llm.scores[start - 1:len(ids) - 1]))
    per_token = [float(logp[j, ids[start + j]]) for j in range(len(ids) - start)]
    total = float(sum(per_token))
    return {"logprob": total, "per_token": per_token, "pieces": token_pieces(llm, ids[start:]),
            "probability": float(np.exp(total)), "evaluated_tokens": evaluated}


# --- grammars and JSON ----------------------------------------------------------------------------

def _gbnf_literal(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def object_gbnf(fields: dict, max_string_chars: int = 16) -> str:
    """A GBNF grammar for one flat JSON object with exactly ``fields``, in that order.

    ``fields`` maps a name to "string" (letters and spaces, 1..``max_string_chars`` characters),
    "integer" (up to 4 digits), "boolean", or a list of allowed strings (an enum). No free
    whitespace: the output has a bounded length, so it always finishes within a known number of
    tokens (:func:`max_json_chars`).
    """
    if not isinstance(fields, dict) or not fields:
        raise ValueError(f"fields must be a non-empty dict of name -> type, got {fields!r}")
    if not isinstance(max_string_chars, int) or not 1 <= max_string_chars <= 200:
        raise ValueError(f"max_string_chars must be a whole number in [1, 200], got {max_string_chars!r}")
    rules, members = [], []
    for i, (name, kind) in enumerate(fields.items()):
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", str(name)):
            raise ValueError(f"field names must be identifiers, got {name!r}")
        rule = f"{name.replace('_', '-').lower()}-value"
        if kind == "string":
            body = f'"\\"" [A-Za-z] [A-Za-z ]{{0,{max_string_chars - 1}}} "\\""'
        elif kind == "integer":
            body = '"0" | [1-9] [0-9]{0,3}'
        elif kind == "boolean":
            body = '"true" | "false"'
        elif isinstance(kind, (list, tuple)) and kind and all(isinstance(k, str) for k in kind):
            body = " | ".join(_gbnf_literal(json.dumps(k)) for k in kind)
        else:
            raise ValueError(f"field {name!r}: type must be 'string', 'integer', 'boolean' or a list of "
                             f"strings, got {kind!r}")
        rules.append(f"{rule} ::= {body}")
        members.append(("" if i == 0 else '", " ') + _gbnf_literal(f'"{name}": ').strip() + f" {rule}")
    root = 'root ::= "{" ' + " ".join(members) + ' "}"'
    return "\n".join([root] + rules) + "\n"


def max_json_chars(fields: dict, max_string_chars: int = 16) -> int:
    """The longest text :func:`object_gbnf` allows for ``fields`` (characters = bytes: all ASCII)."""
    total = 2 + 2 * (len(fields) - 1)  # braces and ", " separators
    for name, kind in fields.items():
        total += len(json.dumps(name)) + 2  # "name": and the space
        if kind == "string":
            total += max_string_chars + 2
        elif kind == "integer":
            total += 4
        elif kind == "boolean":
            total += 5
        else:
            total += max(len(json.dumps(k)) for k in kind)
    return total


def schema_for_fields(fields: dict, max_string_chars: int = 16) -> dict:
    """The JSON Schema that :func:`object_gbnf`'s outputs satisfy (all fields required, no others)."""
    properties = {}
    for name, kind in fields.items():
        if kind == "string":
            properties[name] = {"type": "string", "pattern": f"^[A-Za-z][A-Za-z ]{{0,{max_string_chars - 1}}}$"}
        elif kind == "integer":
            properties[name] = {"type": "integer", "minimum": 0, "maximum": 9999}
        elif kind == "boolean":
            properties[name] = {"type": "boolean"}
        else:
            properties[name] = {"type": "string", "enum": list(kind)}
    return {"type": "object", "properties": properties, "required": list(fields), "additionalProperties": False}


_TYPES = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None)}


def _check_keyword_values(schema: dict, where: str) -> None:
    """Refuse keyword values JSON Schema does not allow, naming them (never a library's own error)."""
    if "properties" in schema and not isinstance(schema["properties"], dict):
        raise ValueError(f"schema at {where}: properties must be a dict of name -> schema, got {schema['properties']!r}")
    if "required" in schema and not (isinstance(schema["required"], list)
                                     and all(isinstance(name, str) for name in schema["required"])):
        raise ValueError(f"schema at {where}: required must be a list of property names, got {schema['required']!r}")
    if "enum" in schema and not isinstance(schema["enum"], list):
        raise ValueError(f"schema at {where}: enum must be a list of allowed values, got {schema['enum']!r}")
    if "pattern" in schema:
        try:
            re.compile(schema["pattern"])
        except (re.error, TypeError) as err:
            raise ValueError(f"schema at {where}: pattern {schema['pattern']!r} is not a regular expression ({err})") from None


def validate(instance, schema: dict, where: str = "$") -> list:
    """Problems of ``instance`` against a JSON Schema subset ([] when valid).

    Supported: type (object, array, string, integer, number, boolean, null), properties, required,
    additionalProperties (false or a schema), items, enum, const, minLength, maxLength, pattern
    (``re.search``), minimum, maximum, minItems, maxItems. Unknown keywords are refused so a schema
    never silently checks less than it says.
    """
    known = {"type", "properties", "required", "additionalProperties", "items", "enum", "const", "minLength",
             "maxLength", "pattern", "minimum", "maximum", "minItems", "maxItems", "description", "title"}
    if not isinstance(schema, dict):
        raise ValueError(f"schema at {where} must be a dict, got {schema!r}")
    unknown = set(schema) - known
    if unknown:
        raise ValueError(f"schema at {where} uses unsupported keywords {sorted(unknown)}; supported: {sorted(known)}")
    _check_keyword_values(schema, where)
    kind = schema.get("type")
    if kind is not None:
        if kind == "integer":
            ok = isinstance(instance, int) and not isinstance(instance, bool)
        elif kind == "number":
            ok = isinstance(instance, (int, float)) and not isinstance(instance, bool)
        elif kind in _TYPES:
            ok = isinstance(instance, _TYPES[kind]) and (kind != "boolean" or isinstance(instance, bool))
        else:
            raise ValueError(f"schema at {where}: unknown type {kind!r}")
        if not ok:
            return [f"{where}: expected {kind}, got {type(instance).__name__} {instance!r}"]
    problems = []
    if "enum" in schema and instance not in schema["enum"]:
        problems.append(f"{where}: {instance!r} is not one of {schema['enum']!r}")
    if "const" in schema and instance != schema["const"]:
        problems.append(f"{where}: {instance!r} is not {schema['const']!r}")
    if isinstance(instance, str):
        if len(instance) < schema.get("minLength", 0):
            problems.append(f"{where}: shorter than minLength {schema['minLength']}")
        if "maxLength" in schema and len(instance) > schema["maxLength"]:
            problems.append(f"{where}: longer than maxLength {schema['maxLength']}")
        if "pattern" in schema and not re.search(schema["pattern"], instance):
            problems.append(f"{where}: {instance!r} does not match pattern {schema['pattern']!r}")
    if isinstance(instance, (int, float)) and not isinstance(instance, bool):
        if "minimum" in schema and instance < schema["minimum"]:
            problems.append(f"{where}: {instance} is below minimum {schema['minimum']}")
        if "maximum" in schema and instance > schema["maximum"]:
            problems.append(f"{where}: {instance} is above maximum {schema['maximum']}")
    if isinstance(instance, dict):
        props = schema.get("properties", {})
        for name in schema.get("required", ()):
            if name not in instance:
                problems.append(f"{where}: missing required property {name!r}")
        extra = schema.get("additionalProperties", True)
        for name, value in instance.items():
            if name in props:
                problems += validate(value, props[name], f"{where}.{name}")
            elif extra is False:
                problems.append(f"{where}: property {name!r} is not allowed")
            elif isinstance(extra, dict):
                problems += validate(value, extra, f"{where}.{name}")
    if isinstance(instance, list):
        if len(instance) < schema.get("minItems", 0):
            problems.append(f"{where}: fewer than minItems {schema['minItems']}")
        if "maxItems" in schema and len(instance) > schema["maxItems"]:
            problems.append(f"{where}: more than maxItems {schema['maxItems']}")
        if "items" in schema:
            for i, item in enumerate(instance):
                problems += validate(item, schema["items"], f"{where}[{i}]")
    return problems


def parse_and_validate(text: str, schema: dict) -> dict:
    """{"parses": bool, "valid": bool, "value": parsed or None, "problems": [...]} for model output ``text``."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        return {"parses": False, "valid": False, "value": None, "problems": [f"not JSON: {err}"]}
    problems = validate(value, schema)
    return {"parses": True, "valid": not problems, "value": value, "problems": problems}


def few_shot_messages(examples, query: str, system: str = "") -> list:
    """Chat messages for few-shot prompting: each example becomes a user turn and an assistant turn."""
    messages = [{"role": "system", "content": system}] if system else []
    for i, example in enumerate(examples):
        if not (isinstance(example, (tuple, list)) and len(example) == 2):
            raise ValueError(f"example {i} must be a (user, assistant) pair of strings, got {example!r}")
        messages += [{"role": "user", "content": example[0]}, {"role": "assistant", "content": example[1]}]
    return check_messages(messages + [{"role": "user", "content": query}])


def next_token_table(llm, prompt: str, n: int = 5, add_bos: bool = True, special: bool = False) -> list:
    """The ``n`` most likely next tokens after ``prompt``: [(piece, probability), ...], most likely first.

    Needs ``logits_all=True``; ``special=True`` reads special tokens written as text (a rendered chat).
    """
    ids = llm.tokenize(prompt.encode("utf-8"), add_bos=add_bos, special=special)
    eval_reusing_prefix(llm, ids)
    logp = log_softmax(np.array(llm.scores[len(ids) - 1:len(ids)]))[0]
    top = np.argsort(-logp, kind="stable")[:n]
    return [(token_pieces(llm, [int(i)])[0], float(np.exp(logp[i]))) for i in top]


def json_reply(llm, schema: dict, *, prompt: str = None, messages=None, grammar_text: str = None,
               use_response_format: bool = False, temperature: float = 0.0, seed: int = 0,
               max_tokens: int = 128) -> dict:
    """Generate once and check the output with ``json.loads`` and :func:`validate` against ``schema``.

    Plain completion of ``prompt`` (optionally constrained by GBNF ``grammar_text``), or a chat
    completion of ``messages`` (optionally with ``response_format={"type": "json_object", "schema":
    schema}``, which llama-cpp-python turns into a grammar). Returns output, finish reason, tokens
    generated, parses, valid, the parsed value (None when it does not parse) and the first problem.
    """
    import llama_cpp

    if (prompt is None) == (messages is None):
        raise ValueError("give exactly one of prompt (plain completion) or messages (chat completion)")
    if messages is not None:
        extra = {"response_format": {"type": "json_object", "schema": schema}} if use_response_format else {}
        out = llm.create_chat_completion(check_messages(messages), temperature=temperature, seed=seed,
                                         max_tokens=max_tokens, **extra)
        text = out["choices"][0]["message"]["content"]
    else:
        grammar = llama_cpp.LlamaGrammar.from_string(grammar_text, verbose=False) if grammar_text else None
        out = llm.create_completion(prompt, temperature=temperature, seed=seed, max_tokens=max_tokens,
                                    grammar=grammar)
        text = out["choices"][0]["text"]
    check = parse_and_validate(text, schema)
    return {"output": text, "finish": out["choices"][0]["finish_reason"],
            "tokens": out["usage"]["completion_tokens"], "parses": check["parses"], "valid": check["valid"],
            "value": check["value"], "problem": check["problems"][0] if check["problems"] else ""}


def json_trials(llm, seeds, schema: dict, temperature: float = 1.0, **request) -> list:
    """:func:`json_reply` once per seed (sampling at ``temperature``): one row per seed, seed first."""
    return [{"seed": seed, **json_reply(llm, schema, temperature=temperature, seed=seed, **request)}
            for seed in seeds]


# --- what a grammar let through, and llama.cpp's own converter (llama-server) --------------------

_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"?', re.DOTALL)
_CONTROL = re.compile(r"[\x00-\x1f]")


def raw_control_chars(text: str) -> int:
    """How many raw control characters (U+0000 to U+001F) lie inside the JSON strings of ``text``.

    Strict JSON refuses them there (``json.loads``: "Invalid control character"); written escaped
    (``\\n``) they are fine. An unterminated last string counts too.
    """
    return sum(len(_CONTROL.findall(match.group(0))) for match in _JSON_STRING.finditer(text))


def out_of_range_integers(value, schema: dict, where: str = "$") -> list:
    """Paths of the whole numbers in ``value`` that break their schema's ``minimum``, ``maximum``,
    ``exclusiveMinimum``, ``exclusiveMaximum`` or ``enum`` (objects and arrays are walked)."""
    if not isinstance(schema, dict):
        raise ValueError(f"schema at {where} must be a dict, got {schema!r}")
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        return [path for key, item in value.items() if key in properties
                for path in out_of_range_integers(item, properties[key], f"{where}.{key}")]
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [path for i, item in enumerate(value)
                for path in out_of_range_integers(item, schema["items"], f"{where}[{i}]")]
    if not isinstance(value, int) or isinstance(value, bool):
        return []
    broken = (("minimum" in schema and value < schema["minimum"])
              or ("maximum" in schema and value > schema["maximum"])
              or ("exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"])
              or ("exclusiveMaximum" in schema and value >= schema["exclusiveMaximum"])
              or ("enum" in schema and value not in schema["enum"]))
    return [where] if broken else []


def grammar_faults(text: str, schema: dict) -> dict:
    """The two faults a JSON-Schema grammar may let through, for one output ``text``:
    raw control characters inside strings (a count) and whole numbers outside the schema's bounds
    (their paths; read after a lenient parse that accepts raw control characters, [] when even that fails)."""
    try:
        value = json.loads(text, strict=False)
    except json.JSONDecodeError:
        value = None
    return {"control_chars": raw_control_chars(text),
            "out_of_range": out_of_range_integers(value, schema) if value is not None else []}


def llama_server_completion(url: str, prompt_ids, *, json_schema: dict = None, temperature: float = 0.0,
                            seed: int = 0, max_tokens: int = 128, top_k: int = 40, top_p: float = 0.95,
                            min_p: float = 0.05, timeout_s: float = 120.0) -> dict:
    """One ``POST {url}/completion`` to llama.cpp's ``llama-server``; its JSON reply.

    The prompt goes as token ids (exactly what llama-cpp-python would evaluate). ``json_schema`` is
    turned into a grammar by llama.cpp's C++ converter (``common/json-schema-to-grammar.cpp``).
    The sampling defaults are llama-cpp-python's ``create_chat_completion`` defaults.
    """
    from helpers.serving.client import post_json

    if not prompt_ids or not all(isinstance(i, int) for i in prompt_ids):
        raise ValueError(f"prompt_ids must be a non-empty list of token ids, got {prompt_ids!r}")
    if not isinstance(max_tokens, int) or max_tokens < 1:
        raise ValueError(f"max_tokens must be a positive whole number, got {max_tokens!r}")
    body = {"prompt": list(prompt_ids), "n_predict": max_tokens, "temperature": temperature, "seed": seed,
            "top_k": top_k, "top_p": top_p, "min_p": min_p, "repeat_penalty": 1.0, "cache_prompt": True}
    if json_schema is not None:
        body["json_schema"] = json_schema
    return post_json(f"{url}/completion", body, timeout_s)


def llama_server_grammar(url: str, schema: dict, prompt_ids=(1,)) -> str:
    """The GBNF grammar llama-server's C++ converter makes of ``schema`` (as it reports it back in
    ``generation_settings.grammar`` after a one-token request)."""
    reply = llama_server_completion(url, list(prompt_ids), json_schema=schema, max_tokens=1)
    return reply["generation_settings"]["grammar"]


def json_reply_from_server(url: str, prompt_ids, schema: dict, *, use_schema: bool = True, **sampling) -> dict:
    """:func:`json_reply`'s row for a llama-server completion of ``prompt_ids`` (with ``schema`` as
    ``json_schema`` when ``use_schema``); ``sampling`` goes to :func:`llama_server_completion`."""
    reply = llama_server_completion(url, prompt_ids, json_schema=schema if use_schema else None, **sampling)
    text = reply["content"]
    check = parse_and_validate(text, schema)
    finish = {"eos": "stop", "word": "stop", "limit": "length"}.get(reply.get("stop_type"), reply.get("stop_type"))
    return {"output": text, "finish": finish, "tokens": reply["tokens_predicted"], "parses": check["parses"],
            "valid": check["valid"], "value": check["value"], "problem": check["problems"][0] if check["problems"] else ""}
