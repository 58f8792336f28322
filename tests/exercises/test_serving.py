from helpers.exercises.serving import check_learners, check_request_speed, check_tokens_per_slot


def test_learners_check_accepts_the_answer_and_explains_mistakes():
    assert check_learners(4 * 71 / 11, 4, 1.0, 200, 20.0, 60.0)
    assert "reading, not waiting" in check_learners(4, 4, 1.0, 200, 20.0, 60.0).message
    assert "time to first token" in check_learners(4 * 70 / 10, 4, 1.0, 200, 20.0, 60.0).message
    assert not check_learners(None, 4, 1.0, 200, 20.0, 60.0)


def test_slot_context_check():
    assert check_tokens_per_slot(2048, 8192, 4)
    assert "split it" in check_tokens_per_slot(8192, 8192, 4).message
    assert "share one cache" in check_tokens_per_slot(32768, 8192, 4).message


def test_request_speed_check():
    assert check_request_speed(20, 0.5, 5.5, 101)
    assert "wait for the first token" in check_request_speed(101 / 5.5, 0.5, 5.5, 101).message
