"""Widget for notebook 14: a chat with the local server, streamed, with a stop button.

The reply streams in a background thread so the kernel stays free to hear the stop button;
stopping closes the connection, which tells the server to stop generating for this client.
"""
import threading

import ipywidgets as widgets

from helpers.serving.client import chat_body, stream_text
from helpers.serving.conversation import Conversation


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

    def stream_reply():
        pieces = []
        try:
            for piece in stream_text(base_url, chat_body(conversation.messages, model, max_tokens, temperature)):
                pieces.append(piece)
                view.value = conversation.as_html(pending="".join(pieces))
                if stopping.is_set():
                    break
        except Exception as err:  # shown in the window, never a dead thread
            pieces.append(f" [error: {err}]")
        conversation.add("assistant", "".join(pieces) + (" [stopped]" if stopping.is_set() else ""))
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
        threading.Thread(target=stream_reply, daemon=True).start()

    send.on_click(on_send)
    stop.on_click(lambda _: stopping.set())
    box = widgets.VBox([view, widgets.HBox([text, send, stop])])
    box.conversation = conversation
    return box
