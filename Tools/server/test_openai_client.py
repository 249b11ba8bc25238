"""`mgm serve` driven by the official `openai` client: answers equal `mgm run` at the same seed,
streaming equals non-streaming, 16 concurrent clients are all answered, multi-turn histories are
rendered with the model's template."""
import concurrent.futures
import threading

import openai
import pytest

from conftest import image_message, mgm_run

QUESTIONS = ["What color is the triangle?", "What shape is blue?", "How many shapes are there?",
             "Is there a circle?", "What digit is shown?"]


def client(server, **options):
    return openai.OpenAI(base_url=server.url + "/v1", api_key=options.pop("api_key", "unused"), max_retries=0, timeout=120, **options)


def stream_text(chat, **request):
    pieces, finish, extra = [], None, None
    for chunk in chat.chat.completions.create(stream=True, **request):
        if chunk.choices:
            delta = chunk.choices[0].delta
            if delta.content:
                pieces.append(delta.content)
            if chunk.choices[0].finish_reason:
                finish = chunk.choices[0].finish_reason
                extra = chunk.model_extra.get("x_mgm")
    return "".join(pieces), finish, extra


def test_models_lists_the_bundled_model(server):
    models = client(server).models.list()
    assert [model.id for model in models.data] == ["MGM-Scenes"]


@pytest.mark.parametrize("temperature,seed", [(0, 0), (0.2, 7), (1.0, 123)])
def test_answers_equal_mgm_run(server, temperature, seed):
    chat = client(server)
    for question in QUESTIONS[:3]:
        expected = mgm_run(question, temperature, seed)
        request = dict(model="MGM-Scenes", messages=[image_message(question)], temperature=temperature, seed=seed, max_tokens=64)
        completion = chat.chat.completions.create(**request)
        assert completion.choices[0].message.content == expected["answer"], question
        assert completion.choices[0].finish_reason == "stop"
        assert completion.usage.prompt_tokens == expected["timings"]["prompt_positions"]
        assert completion.usage.completion_tokens == expected["timings"]["generated_tokens"]
        assert completion.model_extra["x_mgm"]["prompt"] == expected["prompt"]
        streamed, finish, extra = stream_text(chat, **request)
        assert streamed.strip() == expected["answer"], question
        assert finish == "stop" and extra["prompt"] == expected["prompt"]


def test_streaming_usage_and_done(server):
    chat = client(server)
    chunks = list(chat.chat.completions.create(
        model="MGM-Scenes", messages=[image_message("What digit is shown?")], temperature=0, stream=True,
        stream_options={"include_usage": True}))
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens == chunks[-1].usage.prompt_tokens + chunks[-1].usage.completion_tokens
    assert len({chunk.id for chunk in chunks}) == 1


def test_multi_turn_history_uses_the_template(server):
    turns = ["What color is the triangle?", "What digit is shown?"]
    expected = mgm_run(None, 0, 0, chat_lines=turns)
    assert len(expected) == 2
    messages = [image_message(turns[0]), {"role": "assistant", "content": expected[0]["answer"]},
                {"role": "user", "content": turns[1]}]
    completion = client(server).chat.completions.create(model="MGM-Scenes", messages=messages, temperature=0)
    assert completion.model_extra["x_mgm"]["prompt"] == expected[1]["prompt"]
    assert completion.choices[0].message.content == expected[1]["answer"]
    assert "</s>USER:" in expected[1]["prompt"]


def test_stop_strings_and_max_tokens(server):
    chat = client(server)
    limited = chat.chat.completions.create(model="MGM-Scenes", messages=[image_message("Describe the image.")], temperature=1.0,
                                           seed=5, max_tokens=3, extra_body={"ignore_eos": True})
    assert limited.choices[0].finish_reason == "length" and limited.usage.completion_tokens == 3


def test_sixteen_concurrent_clients(server):
    expected = {question: mgm_run(question, 0, 0)["answer"] for question in QUESTIONS}
    barrier = threading.Barrier(16)

    def ask(index):
        question = QUESTIONS[index % len(QUESTIONS)]
        chat = client(server)
        barrier.wait(timeout=60)
        if index % 2:
            return question, stream_text(chat, model="MGM-Scenes", messages=[image_message(question)], temperature=0)[0].strip()
        completion = chat.chat.completions.create(model="MGM-Scenes", messages=[image_message(question)], temperature=0)
        return question, completion.choices[0].message.content

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(ask, range(16), timeout=600))
    assert len(answers) == 16
    for question, answer in answers:
        assert answer == expected[question], question
