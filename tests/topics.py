"""Query topics the tests' tiny collections are written about (distinct words, so BM25 and MiniLM separate them)."""

TOPICS = [
    "solar panels",
    "river floods",
    "coffee roasting",
    "chess openings",
    "bee colonies",
    "glacier melt",
    "bread yeast",
    "violin strings",
    "tidal power",
    "paper mills",
    "cave maps",
    "wind farms",
    "salt mines",
    "owl nests",
    "rust removal",
    "kite design",
]
