"""A chat kept across turns: the messages list every OpenAI-compatible server takes, and its HTML.

The server keeps nothing between requests: each turn sends the whole conversation again, so the
prompt grows with every turn until it no longer fits the server's context.
"""
import html
from dataclasses import dataclass, field

ROLES = ("system", "user", "assistant")


@dataclass
class Conversation:
    """The messages so far, oldest first."""

    messages: list = field(default_factory=list)

    def add(self, role: str, content: str) -> None:
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}, got {role!r}")
        if not isinstance(content, str):
            raise ValueError(f"content must be text, got {type(content).__name__}")
        self.messages.append({"role": role, "content": content})

    def characters(self) -> int:
        """Characters the next request sends (a rough size of the growing prompt)."""
        return sum(len(m["content"]) for m in self.messages)

    def as_html(self, pending: str = "") -> str:
        """Each message as a line of HTML; ``pending`` is a reply still arriving."""
        lines = [f"<p><b>{m['role']}</b>: {html.escape(m['content'])}</p>" for m in self.messages]
        if pending:
            lines.append(f"<p><b>assistant</b>: {html.escape(pending)} ▌</p>")
        return "".join(lines) or "<p><i>(no messages yet)</i></p>"
