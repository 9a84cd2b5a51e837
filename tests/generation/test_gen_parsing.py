"""Tolerant parsing of answers and rejection of what does not read like a document."""

from __future__ import annotations

import pytest

from sycl.generation.levels import default_levels
from sycl.generation.loop import trim_to_sentence
from sycl.generation.parsing import (
    AnswerError,
    accept_passages,
    clean_passage,
    extract_json_object,
    meta_text_reason,
    parse_json_answer,
)

LEVELS = default_levels()
DOC = "Honey bees beat their wings about two hundred times per second, creating vortices that lift them."


@pytest.mark.parametrize(
    "text",
    [
        '{"level_3": ["a"], "level_2": ["b"]}',
        'Sure! Here it is:\n```json\n{"level_3": ["a"], "level_2": ["b"]}\n```\nHope this helps.',
        "{'level_3': ['a'], 'level_2': ['b'],}",
        '{"level_3": ["a"], "level_2": ["b"],}\ntrailing words {not json',
        'prefix {"level_3": ["a with a } brace"], "level_2": ["b"]} suffix',
    ],
)
def test_extract_json_object_tolerates_wrappers(text):
    obj = extract_json_object(text)
    assert set(obj) == {"level_3", "level_2"}
    assert obj["level_2"] == ["b"]


@pytest.mark.parametrize(
    "text,msg",
    [
        ("", "empty"),
        ('{"level_3": ["a very long passage that was cut', "truncated"),
        ("no json here at all", "no JSON object"),
    ],
)
def test_extract_json_object_errors(text, msg):
    with pytest.raises(AnswerError, match=msg):
        extract_json_object(text)


def test_parse_json_answer_maps_keys_and_reports_missing_levels():
    got = parse_json_answer('{"level_3": "x", "2": ["y"], "Level 1": [{"text": "z"}], "irrelevant": ["w"]}', LEVELS)
    assert got == {3: ["x"], 2: ["y"], 1: ["z"], 0: ["w"]}
    with pytest.raises(AnswerError, match="missing or empty: 1, 0"):
        parse_json_answer('{"level_3": ["x"], "level_2": ["y"], "level_1": [""]}', LEVELS)


def test_clean_passage_strips_chat_wrappers():
    assert clean_passage('Here is a passage about bees:\n\n"' + DOC + '"') == DOC
    assert clean_passage("Passage: " + DOC) == DOC
    assert clean_passage("```\n" + DOC + "\n```") == DOC


@pytest.mark.parametrize(
    "text",
    [
        "This passage is irrelevant to the query and discusses something else entirely.",
        "As an AI language model, I cannot browse the web, but bees fly with wings.",
        "I'm sorry, but I can't write that passage for you today.",
        "Perfectly relevant: bees fly by flapping their wings very fast indeed.",
        "The passage below is not related to the topic of bees at all, honestly.",
        "It does not answer the query but talks about flowers and pollen instead.",
        # issue 15: SmolLM2 behind llama-cpp-python's server, per-level mode
        "The passage is a straightforward and concise explanation of how breast cancer cells feed on cholesterol "
        "to survive.",
        "The passage has no reference to breast cancer cells, feeding on cholesterol. It is a factual account that "
        "does not contain any information about the metabolism of tumours.",
        "This passage explains how bees beat their wings two hundred times a second.",
        "This text describes the flight muscles of honeybees in some detail.",
        "The following is an overview of how insects fly, with a focus on bees.",
        "The following passage describes bee flight.",
        "In this passage, we learn that bees flap their wings quickly to stay aloft.",
        "Bees are insects. The text provides no details about their flight, only their diet and hives.",
        "Flowers bloom in spring. The excerpt does not mention wings or flight mechanics at all, sadly.",
    ],
)
def test_meta_text_is_rejected(text):
    assert meta_text_reason(text, LEVELS, "how do bees fly") is not None


@pytest.mark.parametrize(
    "text",
    [
        DOC,
        "Irrelevant details aside, the database planner rewrites joins before execution begins.",
        "The question of funding was raised again at the council meeting on Tuesday evening.",
        "The passage of the bill through the Senate took three months of negotiation and two votes.",
        "The following year, the colony moved to a hollow oak at the edge of the orchard.",
        "Honeybees beat their wings about 230 times per second; the text of the 1934 study said this was impossible.",
        "The Northwest Passage was first navigated by Roald Amundsen between 1903 and 1906.",
    ],
)
def test_documents_are_not_rejected(text):
    assert meta_text_reason(text, LEVELS, "how do bees fly") is None


def test_query_mention_rule_is_skipped_for_queries_about_queries():
    text = "The query optimizer rewrites the query plan before the executor runs it on disk."
    assert meta_text_reason(text, LEVELS, "how do bees fly") == "mentions the query"
    assert meta_text_reason(text, LEVELS, "what does a sql query optimizer do") is None


def test_accept_passages_removes_exact_and_near_duplicates():
    other = "Copper wiring in old houses corrodes slowly when humidity stays high for many years."
    near = DOC.replace("about two hundred", "roughly two hundred")
    kept = accept_passages(
        {
            3: [DOC],
            2: [other],
            1: [near, "Garden soil drains better when mixed with coarse sand and compost in early spring."],
            0: [DOC.upper()],
        },
        LEVELS[:3],
        1,
        "how do bees fly",
        8,
        0.6,
    )
    assert kept == {
        3: [DOC],
        2: [other],
        1: ["Garden soil drains better when mixed with coarse sand and compost in early spring."],
    }
    with pytest.raises(AnswerError, match="level.*0.*duplicates"):
        accept_passages({3: [DOC], 0: [DOC.upper()]}, [LEVELS[0], LEVELS[3]], 1, "how do bees fly", 8, 0.8)


def test_accept_passages_checks_against_already_accepted_and_length():
    with pytest.raises(AnswerError, match="duplicates"):
        accept_passages({2: [DOC]}, LEVELS, 1, "bees", 8, 0.8, accepted=[(3, DOC)])
    with pytest.raises(AnswerError, match="too short"):
        accept_passages({2: ["Bees fly."]}, LEVELS, 1, "bees", 8, 0.8)


def test_trim_to_sentence():
    assert trim_to_sentence("One sentence here. Another one that was cut") == "One sentence here."
    assert trim_to_sentence("no sentence end at all") == ""
