import pytest

from helpers.serving.conversation import Conversation


def test_conversation_keeps_every_turn_in_order_and_escapes_html():
    chat = Conversation()
    chat.add("system", "Be brief.")
    chat.add("user", "Is 1 < 2?")
    chat.add("assistant", "Yes.")
    assert [m["role"] for m in chat.messages] == ["system", "user", "assistant"]
    assert chat.characters() == len("Be brief.") + len("Is 1 < 2?") + len("Yes.")
    page = chat.as_html(pending="And")
    assert "1 &lt; 2" in page and page.index("Be brief") < page.index("Yes.") < page.index("And")


def test_conversation_refuses_unknown_roles_and_non_text():
    with pytest.raises(ValueError, match="role must be one of .* got 'tool'"):
        Conversation().add("tool", "x")
    with pytest.raises(ValueError, match="content must be text, got int"):
        Conversation().add("user", 3)
