"""Configuration (file section + flag overrides) and prompt templates."""

from __future__ import annotations

import pytest

from sycl.generation import GenerationConfig, load_config
from sycl.generation.levels import default_levels
from sycl.generation.prompts import json_schema, load_template, parse_template, render_level_prompt
from sycl.io.errors import DataError


def test_config_section_with_overrides(tmp_path):
    f = tmp_path / "exp.yaml"
    f.write_text(
        "generate:\n  backend: openai\n  concurrency: 8\n  passages_per_level: 2\n"
        "  levels:\n    - {label: 1, name: relevant, definition: answers it}\n"
        "    - {label: 0, name: unrelated, definition: about something else}\n"
        "train: {whatever: 1}\n"
    )
    cfg = load_config(f, {"concurrency": 64, "model": None, "sampling.temperature": 0.2})
    assert (cfg.backend, cfg.concurrency, cfg.passages_per_level, cfg.sampling.temperature) == ("openai", 64, 2, 0.2)
    assert [lv.label for lv in cfg.levels] == [1, 0]
    assert cfg.resolved_mode() == "json"
    assert cfg.resolved_max_tokens() > 2 * 2 * 80  # two levels x two passages of ~80 words
    assert cfg.resolved_max_attempts() == 3
    assert GenerationConfig(backend="embedded").resolved_max_attempts() == 5  # the weak model gets more tries
    assert GenerationConfig(backend="embedded", max_attempts=2).resolved_max_attempts() == 2


def test_config_errors_name_the_key(tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text("backend: openai\nconcurency: 3\n")
    with pytest.raises(DataError, match="concurency: unknown key"):
        load_config(f)
    with pytest.raises(DataError, match="levels"):
        load_config(
            None,
            {"levels": [{"label": 1, "name": "a", "definition": "x"}, {"label": 1, "name": "b", "definition": "y"}]},
        )


def test_shipped_templates_render_every_variable():
    levels = default_levels()
    msgs = render_level_prompt(load_template("per-level"), "how do bees fly", levels[3], levels, 1, 60)
    text = "\n".join(m["content"] for m in msgs)
    assert "how do bees fly" in text and "irrelevant" in text and "60 words" in text and "$" not in text
    schema = json_schema(levels, 2)
    assert schema["required"] == ["level_3", "level_2", "level_1", "level_0"]
    assert schema["properties"]["level_0"]["minItems"] == 2


def test_user_template_errors(tmp_path):
    with pytest.raises(DataError, match="needs a \\[user\\] section"):
        parse_template("[system]\nhello\n", "t.txt")
    with pytest.raises(DataError, match="t.txt:1: text before the first section"):
        parse_template("hello\n[user]\nx\n", "t.txt")
    t = parse_template("# comment\n[user]\nQuery $query costs $$5, see $nope\n", "t.txt")
    with pytest.raises(DataError, match=r"unknown variable \$nope"):
        t.render(query="q")
    ok = parse_template("[user]\nQuery $query costs $$5\n", "t.txt")
    assert ok.render(query="q") == [{"role": "user", "content": "Query q costs $5"}]
    f = tmp_path / "mine.txt"
    f.write_text("[user]\nWrite about $query at level $level_label.\n")
    assert load_template("per-level", f).user.startswith("Write about")
    with pytest.raises(DataError, match="not found"):
        load_template("json", tmp_path / "missing.txt")
