"""A tiny BEIR data set for evaluation and mining tests."""

from pathlib import Path

from sycl.io import write_corpus, write_qrels, write_queries

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "datasets"

DOCS = {
    "d1": ("Water", "Water boils at 100 degrees Celsius at sea level and at lower temperatures on mountains."),
    "d2": ("Kettles", "An electric kettle heats water quickly using a heating element."),
    "d3": ("Cats", "Cats are small domesticated carnivorous mammals that sleep most of the day."),
    "d4": ("Dogs", "Dogs were domesticated from wolves and are loyal companions."),
    "d5": ("", "how do cats sleep"),
    "d6": ("Photosynthesis", "Plants convert sunlight, water and carbon dioxide into glucose and oxygen."),
    "d7": ("Volcanoes", "A volcano erupts when magma rises through the crust to the surface."),
    "d8": ("Football", "Football is played by two teams of eleven players with a round ball."),
    "d9": ("Tea", "Green tea should be brewed with water below boiling, around 80 degrees."),
    "d10": ("Mountains", "Air pressure drops with altitude, so water boils sooner high up in the mountains."),
    "d11": ("Sleep", "Adult cats sleep between twelve and sixteen hours a day, often in short naps."),
    "d12": ("Stars", "Stars are giant balls of hot gas that produce light by nuclear fusion."),
}
QUERIES = {
    "q1": "at what temperature does water boil",
    "d5": "how do cats sleep",  # a query whose id equals a document id (BEIR identical-id rule)
    "q3": "how do plants make food from light",
    "q4": "what causes a volcanic eruption",
    "q5": "an unjudged query",
}
QRELS = {
    "q1": {"d1": 2, "d10": 1, "d9": 0},
    "d5": {"d11": 2, "d3": 1},
    "q3": {"d6": 1},
    "q4": {"d7": 1},
}


def make_beir(root: Path, docs=DOCS, queries=QUERIES, qrels=QRELS, split="test") -> Path:
    write_corpus(root / "corpus.jsonl", ({"_id": k, "title": t, "text": x} for k, (t, x) in docs.items()))
    write_queries(root / "queries.jsonl", queries)
    write_qrels(root / "qrels" / f"{split}.tsv", qrels)
    return root
