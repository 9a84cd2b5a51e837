import json

import pytest
from eval_data import DOCS, QRELS

from sycl.cli import main
from sycl.io import read_qrels
from sycl.io.corpus import Corpus
from sycl.io.errors import DataError
from sycl.mining import BM25Index, mine_negatives


def test_bm25_ranks_term_matches_and_skips_nonmatching(tiny):
    index = BM25Index(Corpus.open(tiny))
    top = index.search(["boiling water temperature", "zzzz qqqq"], 5)
    ids = [Corpus.open(tiny).id_at(r) for r in top.rows[0] if r >= 0]
    assert ids[0] in {"d1", "d9", "d10"} and set(ids) <= {"d1", "d2", "d9", "d10", "d6"}
    assert (top.scores[0][:-1] >= top.scores[0][1:]).all()
    assert (top.rows[1] == -1).all()  # no term in common: nothing returned


def test_bm25_negatives_exclude_positives_and_read_back(tiny, tmp_path):
    out = tmp_path / "neg.jsonl"
    stats = mine_negatives(tiny, out, k=4, ignore_identical_ids=True, show_progress=False)
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert stats["method"] == "bm25" and stats["queries"] == len(lines) and stats["encoder_path"] is None
    for obj in lines:
        q = obj["qid"]
        positives = {d for d, lab in QRELS[q].items() if lab >= 1}
        assert not positives & set(obj["docid"])
        assert q not in obj["docid"]  # identical id rule (query "d5")
        assert obj["score"] == list(range(1, len(obj["docid"]) + 1))
        assert len(obj["docid"]) <= 4
    # a label-0 judgement is not a positive: it may be mined
    q1 = next(o for o in lines if o["qid"] == "q1")
    assert "d9" in q1["docid"]
    qrels = read_qrels(out)
    assert set(qrels) == {o["qid"] for o in lines} and qrels["q1"][q1["docid"][0]] == 1


def test_tsv_output_and_cli(tiny, tmp_path, capsys):
    out = tmp_path / "neg.tsv"
    assert main(["-q", "mine", "--dataset", str(tiny), "--k", "3", "--out", str(out)]) == 0
    assert json.loads(capsys.readouterr().out)["format"] == "tsv"
    assert out.read_text().splitlines()[0] == "query-id\tcorpus-id\tscore"
    qrels = read_qrels(out)
    assert all(sorted(d.values()) == list(range(1, len(d) + 1)) for d in qrels.values())
    assert main(["-q", "mine", "--dataset", str(tiny), "--split", "test", "--out", str(out)]) == 2  # unknown split


def test_dense_negatives(tiny, tmp_path):
    from sycl.modeling import BiEncoder

    out = tmp_path / "dense.jsonl"
    stats = mine_negatives(
        tiny, out, k=len(DOCS), model=BiEncoder.from_pretrained(), encode_backend="torch", show_progress=False
    )
    assert stats["method"] == "dense"
    # the record names the encoder that embedded the corpus (torch, in the precision auto resolved to here)
    assert stats["encoder_path"] in ("torch fp32", "torch bf16")
    qrels = read_qrels(out)
    for q, docs in qrels.items():
        positives = {d for d, lab in QRELS[q].items() if lab >= 1}
        # everything but the positives is returned when k covers the corpus (the identical-id rule is off
        # by default, so the cats query "d5" may mine document "d5")
        assert set(docs) == set(DOCS) - positives
    # the closest non-relevant passage to the cats query is about dogs or cats' sleep, not volcanoes
    assert qrels["d5"]["d7"] > 3


def test_bad_format_is_an_error(tiny, tmp_path):
    with pytest.raises(DataError, match="format"):
        mine_negatives(tiny, tmp_path / "x.jsonl", fmt="csv")


def test_mined_file_is_a_training_source_with_group_random_k(tiny, tmp_path):
    from sycl.data.config import SourceConfig
    from sycl.data.pool import PassagePool

    out = tmp_path / "neg.jsonl"
    # with the identical-id rule the cats query "d5" has no BM25 negative left and leaves the pool
    mine_negatives(tiny, out, k=5, ignore_identical_ids=True, show_progress=False)
    spec = SourceConfig(path=str(tiny), qrels=str(out), score_transform=0, group_random_k=2)
    pool = PassagePool.load([spec], seed=0)
    groups = pool.groups(epoch=0)
    assert pool.n_queries == len(read_qrels(out))
    for q in range(pool.n_queries):
        passages, labels = groups.of(q)
        assert len(passages) == 2 and (labels == 0).all()
