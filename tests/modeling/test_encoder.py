import json

import numpy as np
import pytest
import torch
from sentence_transformers import SentenceTransformer

from sycl.io.errors import DataError
from sycl.modeling import BiEncoder, embedded_encoder_path

TEXTS = [
    "what is the boiling point of water at altitude",
    "Water boils at a lower temperature on mountains because air pressure is lower. " * 3,
    "cats",
]


@pytest.fixture(scope="module")
def minilm():
    return BiEncoder.from_pretrained()


def test_embedded_settings_come_from_the_sentence_transformers_folder(minilm):
    s = minilm.settings
    assert s["pooling"] == "mean" and s["normalize"] is True and s["similarity"] == "cosine"
    assert s["max_query_length"] == 256 == s["max_passage_length"]


def test_same_embeddings_as_sentence_transformers(minilm):
    ref = SentenceTransformer(embedded_encoder_path(), device="cpu").encode(TEXTS)
    ours = minilm.encode(TEXTS, precision="fp32")
    np.testing.assert_allclose(ours, ref, atol=1e-5)


def test_saved_model_loads_in_sentence_transformers_with_prefixes(minilm, tmp_path):
    m = BiEncoder.from_pretrained(
        embedded_encoder_path(),
        normalize=False,
        similarity="dot",
        query_prefix="query: ",
        passage_prefix="passage: ",
        max_query_length=32,
    )
    m.save(tmp_path / "m")
    assert json.loads((tmp_path / "m" / "sycl_model.json").read_text())["query_prefix"] == "query: "
    st = SentenceTransformer(str(tmp_path / "m"), device="cpu")
    np.testing.assert_allclose(st.encode_document(TEXTS), m.encode(TEXTS, "passage", precision="fp32"), atol=1e-5)
    # reloading with sycl restores every setting
    again = BiEncoder.from_pretrained(str(tmp_path / "m"))
    assert again.settings == m.settings
    # a query prefix changes the query embedding
    assert not np.allclose(m.encode(TEXTS, "query", precision="fp32"), m.encode(TEXTS, "passage", precision="fp32"))


def test_bf16_autocast_keeps_embeddings(minilm):
    a = minilm.encode(TEXTS, precision="fp32")
    b = minilm.encode(TEXTS, precision="bf16")
    cos = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    assert cos.min() >= 0.999


def test_encode_order_independent_of_length_sorting(minilm):
    a = minilm.encode(TEXTS, precision="fp32", batch_size=1)
    b = minilm.encode(TEXTS[::-1], precision="fp32", batch_size=3)[::-1]
    np.testing.assert_allclose(a, b, atol=1e-5)


def test_cls_and_last_pooling(tmp_path):
    from transformers import AutoTokenizer, GPT2Config, GPT2Model

    tok = AutoTokenizer.from_pretrained(embedded_encoder_path())
    tok.eos_token = "[SEP]"
    cfg = GPT2Config(vocab_size=tok.vocab_size, n_layer=1, n_head=2, n_embd=16, n_positions=64)
    torch.manual_seed(0)
    GPT2Model(cfg).save_pretrained(tmp_path / "gpt")
    tok.save_pretrained(tmp_path / "gpt")
    m = BiEncoder.from_pretrained(str(tmp_path / "gpt"), pooling="last")
    feats = m.tokenize(["a b c", "a"], "passage")
    ids, mask = feats["input_ids"], feats["attention_mask"]
    for row in range(2):  # EOS appended as the last real token
        assert ids[row, mask[row].sum() - 1].item() == tok.eos_token_id
    emb = m(feats)
    hidden = m.transformer(**feats).last_hidden_state
    np.testing.assert_allclose(emb[1].detach().numpy(), hidden[1, mask[1].sum() - 1].detach().numpy(), atol=1e-6)
    cls = BiEncoder.from_pretrained(str(tmp_path / "gpt"), pooling="cls")
    np.testing.assert_allclose(cls(feats)[0].detach().numpy(), hidden[0, 0].detach().numpy(), atol=1e-6)


def test_missing_model_files_is_a_clear_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="config.json is missing"):
        BiEncoder.from_pretrained(str(tmp_path / "empty"))


def test_chunked_embed_equals_forward_values_and_gradients(minilm):
    texts = TEXTS * 3 + ["a much longer passage about glaciers, erosion and the carving of fjords " * 4, "x"]
    feats = minilm.tokenize(texts, "passage")
    minilm.eval()  # no dropout, so both paths compute the same function
    whole = minilm(feats)
    (g_whole,) = torch.autograd.grad(
        whole.pow(2).sum() + whole[0, 0], [minilm.transformer.embeddings.word_embeddings.weight]
    )
    for chunk in (1, 4, 5):
        part = minilm.embed(feats, chunk)
        torch.testing.assert_close(part, whole, atol=2e-5, rtol=1e-4)
        (g_part,) = torch.autograd.grad(
            part.pow(2).sum() + part[0, 0], [minilm.transformer.embeddings.word_embeddings.weight]
        )
        torch.testing.assert_close(g_part, g_whole, atol=1e-5, rtol=1e-3)
    assert minilm.embed(feats, None) is not None and minilm.embed(feats, 100).shape == whole.shape


def test_training_embed_looks_token_embeddings_up_once_per_call(minilm):
    """With gradients on, chunks start from one lookup (one dense embedding gradient, not one per chunk)."""
    texts = TEXTS * 3 + ["x"]
    feats = minilm.tokenize(texts, "passage")
    calls = []
    hook = minilm.transformer.get_input_embeddings().register_forward_hook(lambda *a: calls.append(1))
    try:
        minilm.eval()
        out = minilm.embed(feats, 4)
        assert len(calls) == 1 and out.requires_grad
        calls.clear()
        with torch.no_grad():  # inference: each chunk looks up its own (shorter) rows
            minilm.embed(feats, 4)
        assert len(calls) == -(-len(texts) // 4)
    finally:
        hook.remove()
