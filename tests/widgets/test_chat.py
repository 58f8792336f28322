import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from helpers.serving.conversation import Conversation
from helpers.widgets.chat import chat_window, stream_reply

PIECES = ["The", " sky", " is", " blue", "."]


class StreamingChat(BaseHTTPRequestHandler):
    """Streams PIECES as server-sent events and records every request body it receives."""

    def do_POST(self):
        self.server.bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        for piece in PIECES:
            event = {"choices": [{"delta": {"content": piece}, "finish_reason": None}]}
            self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
        self.wfile.write(b"data: [DONE]\n\n")

    def log_message(self, *args):
        pass


@pytest.fixture
def fake_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), StreamingChat)
    server.bodies = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def test_a_streamed_reply_is_appended_and_every_turn_resends_the_conversation(fake_server):
    server, base_url = fake_server
    conversation = Conversation()
    conversation.add("user", "What colour is the sky?")
    seen = []
    assert stream_reply(conversation, base_url, "m", on_text=seen.append) == "The sky is blue."
    assert seen == ["The", "The sky", "The sky is", "The sky is blue", "The sky is blue."]
    conversation.add("user", "Why?")
    stream_reply(conversation, base_url, "m")
    assert [m["role"] for m in server.bodies[1]["messages"]] == ["user", "assistant", "user"]
    assert server.bodies[1]["messages"][1]["content"] == "The sky is blue."


def test_stopping_ends_the_reply_early_and_says_so(fake_server):
    _, base_url = fake_server
    conversation = Conversation()
    conversation.add("user", "Go on.")
    stopping = threading.Event()
    stopping.set()
    assert stream_reply(conversation, base_url, "m", stopping=stopping) == "The [stopped]"
    assert conversation.messages[-1] == {"role": "assistant", "content": "The [stopped]"}


def test_the_window_keeps_its_conversation(fake_server):
    _, base_url = fake_server
    window = chat_window(base_url, "m", system="Be brief.")
    assert window.conversation.messages == [{"role": "system", "content": "Be brief."}]
