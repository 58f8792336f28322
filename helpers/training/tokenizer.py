"""A SentencePiece-style ("llama") tokenizer: trained here in pure Python, encoded like llama.cpp.

Vocabulary layout (what llama.cpp expects in GGUF metadata for ``tokenizer.ggml.model = llama``):

* id 0 ``<unk>``, 1 ``<s>`` (BOS), 2 ``</s>`` (EOS)  - control tokens
* ids 3..258: ``<0x00>`` .. ``<0xFF>`` byte-fallback tokens (type 6)
* then normal tokens: single characters, then merged pieces, each with a score.

Spaces are written as "▁" (U+2581) and a text gets one leading "▁", as llama.cpp does.
Encoding follows llama.cpp's ``llm_tokenizer_spm``: start from single characters and keep merging
the adjacent pair whose concatenation is a token with the highest score (ties: leftmost pair);
characters that are not tokens become their UTF-8 bytes.
"""
import heapq
import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

SPACE = "\u2581"
UNK, BOS, EOS = 0, 1, 2
N_BYTE_TOKENS = 256
FIRST_BYTE_ID = 3
TYPE_NORMAL, TYPE_UNKNOWN, TYPE_CONTROL, TYPE_BYTE = 1, 2, 3, 6
_UNITS = re.compile(f"{SPACE}?[^{SPACE}\n]+|\n|{SPACE}")


@dataclass
class SpmVocab:
    """Token texts, scores and types, in id order."""
    tokens: list
    scores: list
    types: list

    def __post_init__(self):
        if not (len(self.tokens) == len(self.scores) == len(self.types)):
            raise ValueError("tokens, scores and types must have the same length")
        for piece, kind in zip(self.tokens, self.types):
            if kind == TYPE_NORMAL and (SPACE in piece[1:] or ("\n" in piece and piece != "\n")):
                raise ValueError(f"piece {piece!r}: '▁' only at the start, '\\n' only alone")
        self.ids = {t: i for i, t in enumerate(self.tokens) if self.types[i] == TYPE_NORMAL}
        self._cache = {}

    def __len__(self):
        return len(self.tokens)

    def save(self, path) -> None:
        """Write the vocabulary as JSON."""
        Path(path).write_text(json.dumps({"tokens": self.tokens, "scores": self.scores,
                                          "types": self.types}, ensure_ascii=False))

    @classmethod
    def load(cls, path) -> "SpmVocab":
        """Read a vocabulary written by :meth:`save`."""
        d = json.loads(Path(path).read_text())
        return cls(d["tokens"], d["scores"], d["types"])

    def _merge_unit(self, unit: str) -> list:
        """llama.cpp's bigram merge on one unit (a piece of text no token can cross)."""
        if unit in self._cache:
            return self._cache[unit]
        sym = list(unit)
        nxt = list(range(1, len(sym))) + [-1]
        prv = list(range(-1, len(sym) - 1))
        queue = []

        def try_add(left, right):
            if left == -1 or right == -1:
                return
            text = sym[left] + sym[right]
            tid = self.ids.get(text)
            if tid is not None:
                heapq.heappush(queue, (-self.scores[tid], left, right, len(text)))

        for i in range(1, len(sym)):
            try_add(i - 1, i)
        while queue:
            _, left, right, size = heapq.heappop(queue)
            if not sym[left] or not sym[right] or len(sym[left]) + len(sym[right]) != size:
                continue
            sym[left] += sym[right]
            sym[right] = ""
            nxt[left] = nxt[right]
            if nxt[right] >= 0:
                prv[nxt[right]] = left
            try_add(prv[left], left)
            try_add(left, nxt[left])
        out = []
        for piece in sym:
            if not piece:
                continue
            tid = self.ids.get(piece)
            if tid is not None:
                out.append(tid)
            else:
                out.extend(FIRST_BYTE_ID + b for b in piece.encode("utf-8"))
        if len(self._cache) < 200_000:
            self._cache[unit] = out
        return out

    def encode(self, text: str, add_bos: bool = False) -> list:
        """Token ids for ``text``, exactly as llama.cpp's SPM tokenizer (leading space added).

        An empty text gives no tokens (only BOS if asked), as in llama.cpp.
        """
        if not text:
            return [BOS] if add_bos else []
        escaped = (" " + text).replace(" ", SPACE)
        ids = [BOS] if add_bos else []
        for unit in _UNITS.findall(escaped):
            ids.extend(self._merge_unit(unit))
        return ids

    def decode(self, ids) -> str:
        """Text for ``ids`` ("▁" back to spaces, byte tokens to bytes); control tokens are skipped.

        The leading space that :meth:`encode` adds is kept, as in llama.cpp's detokenizer.
        """
        out = bytearray()
        for i in ids:
            if not 0 <= i < len(self.tokens):
                raise ValueError(f"token id {i} outside vocabulary of {len(self.tokens)}")
            kind = self.types[i]
            if kind == TYPE_BYTE:
                out.append(i - FIRST_BYTE_ID)
            elif kind == TYPE_NORMAL:
                out.extend(self.tokens[i].replace(SPACE, " ").encode("utf-8"))
        return out.decode("utf-8", errors="replace")


def _pair_counts(words: dict) -> tuple:
    counts, where = Counter(), {}
    for word, freq in words.items():
        for pair in zip(word, word[1:]):
            counts[pair] += freq
            where.setdefault(pair, set()).add(word)
    return counts, where


def train_spm_bpe(text: str, vocab_size: int = 1024, min_char_count: int = 10) -> tuple:
    """Learn a BPE vocabulary on ``text``; return (SpmVocab, merges as a list of (left, right)).

    Characters seen at least ``min_char_count`` times become tokens (rarer ones fall back to
    bytes); then the most frequent adjacent pair inside a word unit is merged, repeatedly, until
    ``vocab_size`` tokens exist. A merge made earlier gets a higher score (score = -rank).
    """
    base = 3 + N_BYTE_TOKENS
    escaped = (" " + text).replace(" ", SPACE)
    chars = Counter(escaped)
    alphabet = sorted(c for c, n in chars.items() if n >= min_char_count)
    if vocab_size < base + len(alphabet):
        raise ValueError(f"vocab_size {vocab_size} must be at least {base + len(alphabet)} "
                         f"(specials, 256 bytes and {len(alphabet)} characters)")
    words = {tuple(u): n for u, n in Counter(_UNITS.findall(escaped)).items()}
    counts, where = _pair_counts(words)
    merges = []
    while base + len(alphabet) + len(merges) < vocab_size and counts:
        pair, freq = max(counts.items(), key=lambda kv: (kv[1], kv[0]))
        if freq < 2:
            break
        merges.append(pair)
        joined = pair[0] + pair[1]
        for word in list(where.get(pair, ())):
            if word not in words:
                continue
            freq_w = words.pop(word)
            for p in zip(word, word[1:]):
                counts[p] -= freq_w
                if counts[p] <= 0:
                    del counts[p]
                where[p].discard(word)
            new, i = [], 0
            while i < len(word):
                if i + 1 < len(word) and (word[i], word[i + 1]) == pair:
                    new.append(joined)
                    i += 2
                else:
                    new.append(word[i])
                    i += 1
            new = tuple(new)
            words[new] = words.get(new, 0) + freq_w
            for p in zip(new, new[1:]):
                counts[p] += freq_w
                where.setdefault(p, set()).add(new)
    tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(N_BYTE_TOKENS)]
    types = [TYPE_UNKNOWN, TYPE_CONTROL, TYPE_CONTROL] + [TYPE_BYTE] * N_BYTE_TOKENS
    scores = [0.0] * base
    pieces = [a + b for a, b in merges]
    tokens += alphabet + pieces
    scores += [-float(len(pieces))] * len(alphabet) + [-float(r) for r in range(len(pieces))]
    types += [TYPE_NORMAL] * (len(alphabet) + len(pieces))
    return SpmVocab(tokens, scores, types), merges
