"""Widget for notebook 14: a chat with the local server, streamed, with a stop button.

The reply streams in a background thread so the kernel stays free to hear the stop button;
stopping closes the connection, which tells the server to stop generating for this client.
"""
import threading

import ipywidgets as widgets

from helpers.serving.client import chat_body, stream_text
from helpers.serving.conversation import Conversation


def stream_reply(conversation: Conversation, base_url: str, model: str, max_tokens: int = 128,
                 temperature: float = 0.0, on_text=None, stopping: threading.Event | None = None) -> str:
    """Stream the server's reply to the conversation so far, append it as the assistant's turn, return it.

    ``on_text`` is called with the reply so far after every piece; a set ``stopping`` event ends the
    reply early (closing the connection), marked " [stopped]".
    """
    pieces = []
    for piece in stream_text(base_url, chat_body(conversation.messages, model, max_tokens, temperature)):
        pieces.append(piece)
        if on_text is not None:
            on_text("".join(pieces))
        if stopping is not None and stopping.is_set():
            pieces.append(" [stopped]")
            break
    reply = "".join(pieces)
    conversation.add("assistant", reply)
    return reply


def chat_window(base_url: str, model: str, system: str = "", max_tokens: int = 128, temperature: float = 0.0):
    """Text box, Send and Stop buttons, and the conversation so far (kept across turns)."""
    conversation = Conversation()
    if system:
        conversation.add("system", system)
    view = widgets.HTML(conversation.as_html())
    text = widgets.Text(placeholder="Ask something and press Send", layout=widgets.Layout(width="60%"))
    send = widgets.Button(description="Send", button_style="primary")
    stop = widgets.Button(description="Stop", disabled=True)
    stopping = threading.Event()

    def reply_in_background():
        try:
            stream_reply(conversation, base_url, model, max_tokens, temperature, stopping=stopping,
                         on_text=lambda so_far: setattr(view, "value", conversation.as_html(pending=so_far)))
        except Exception as err:  # shown in the window, never a dead thread
            conversation.add("assistant", f"[error: {err}]")
        view.value = conversation.as_html()
        send.disabled, stop.disabled = False, True

    def on_send(_):
        if not text.value.strip():
            return
        conversation.add("user", text.value.strip())
        text.value = ""
        stopping.clear()
        send.disabled, stop.disabled = True, False
        view.value = conversation.as_html(pending="…")
        threading.Thread(target=reply_in_background, daemon=True).start()

    send.on_click(on_send)
    stop.on_click(lambda _: stopping.set())
    box = widgets.VBox([view, widgets.HBox([text, send, stop])])
    box.conversation = conversation
    return box
