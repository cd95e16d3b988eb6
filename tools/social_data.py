"""Labelled social posts for complaint detection, read from ``../shared/data/social/``.

    from social_data import load_all
    sets = load_all()          # {name: (lang, train_rows, heldout_rows)}, rows = (text, y)

``y`` is 1 when the post is a complaint / counts as negative (needs a person), 0 when not.
Nothing here is copied into the repo; ``$BUZZWATCH_SOCIAL_DATA`` overrides the path.

Label mapping (emotion is not complaint, see the data README):
- complaints_preotiuc2019: its own complaint label.
- Apple (1 negative / 3 neutral / 5 positive), Sanders, SXSW brand emotions, tweeteval:
  negative -> 1; neutral, positive, "no emotion" -> 0; irrelevant / can't tell dropped.
- CESAMARD Amazon reviews: its Complaint label.
- NLPCC 2013/2014 and SMP2020 Weibo emotion: anger, disgust -> 1; none / neutral, like,
  happiness -> 0.  sadness, fear and surprise are dropped: a sad post about the weather is
  no complaint about a brand, and a sad post about a late parcel is -- the label cannot
  tell them apart, so neither side learns from them.
- weibo_senti_100k subset: 0 (negative) -> 1.
- CCF BDCI car forum: a post with any -1 aspect -> 1, else 0.

Split: 20% of each set is held out by a hash of the whitespace-normalised text, so a
duplicate (retweets are common) always lands on the same side.  Nothing is tuned on
held-out rows; training tools split their own validation folds from the training part.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DATA_ENV = "BUZZWATCH_SOCIAL_DATA"
Rows = list[tuple[str, int]]
HOLDOUT_PERCENT = 20

ZH_NEG_EMOTIONS = {"anger", "disgust", "angry"}
ZH_NOT_EMOTIONS = {"none", "neutral", "like", "happiness", "happy"}


def default_data_dir() -> Path:
    env = os.environ.get(DATA_ENV)
    return Path(env) if env else REPO.parent / "shared" / "data" / "social"


def text_key(text: str) -> str:
    return " ".join(text.split()).lower()


def hash_bucket(text: str, buckets: int = 100) -> int:
    """Deterministic bucket of a text (same text, same bucket, on every machine)."""
    digest = hashlib.sha1(text_key(text).encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "big") % buckets


def is_heldout(text: str) -> bool:
    return hash_bucket(text) < HOLDOUT_PERCENT


def _dedupe(rows: Rows) -> Rows:
    """First label wins for repeated texts (retweets, copies)."""
    seen: dict[str, tuple[str, int]] = {}
    for text, y in rows:
        text = text.strip()
        if text and text_key(text) not in seen:
            seen[text_key(text)] = (text, y)
    return list(seen.values())


def split(rows: Rows) -> tuple[Rows, Rows]:
    rows = _dedupe(rows)
    train = [r for r in rows if not is_heldout(r[0])]
    held = [r for r in rows if is_heldout(r[0])]
    return train, held


# ------------------------------------------------------------------ English ----------
def _csv_rows(path: Path, encoding: str = "utf-8", header: bool = True):
    with open(path, encoding=encoding, errors="replace", newline="") as fh:
        reader = csv.DictReader(fh) if header else csv.reader(fh)
        yield from reader


def complaints(d: Path) -> Rows:
    return [
        (r[1], int(r[2]))
        for r in _csv_rows(d / "en" / "complaints_preotiuc2019.csv", header=False)
        if len(r) >= 3
    ]


def apple(d: Path) -> Rows:
    out = []
    for r in _csv_rows(d / "en" / "apple_twitter_sentiment_dfe.csv", encoding="cp1252"):
        label = r.get("sentiment", "")
        if label in ("1", "3", "5"):
            out.append((r["text"], int(label == "1")))
    return out


def sxsw(d: Path) -> Rows:
    out = []
    path = d / "en" / "brands_product_emotions_sxsw2011.csv"
    for r in _csv_rows(path, encoding="cp1252"):
        label = r.get("is_there_an_emotion_directed_at_a_brand_or_product", "")
        text = r.get("tweet_text") or ""
        if label in ("Negative emotion", "Positive emotion", "No emotion toward brand or product"):
            out.append((text, int(label == "Negative emotion")))
    return out


def sanders(d: Path) -> Rows:
    out = []
    for r in _csv_rows(d / "en" / "sanders_twitter_corpus.csv"):
        if r["Sentiment"] in ("positive", "negative", "neutral"):
            out.append((r["TweetText"], int(r["Sentiment"] == "negative")))
    return out


def tweeteval(d: Path) -> Rows:
    out = []
    with open(d / "en" / "tweeteval_sentiment_test_val.tsv", encoding="utf-8") as fh:
        next(fh)
        for line in fh:
            parts = line.rstrip("\n").split("\t", 2)
            if len(parts) == 3 and parts[1] in ("negative", "neutral", "positive"):
                out.append((parts[2], int(parts[1] == "negative")))
    return out


def cesamard(d: Path) -> Rows:
    out = []
    for r in _csv_rows(d / "en" / "cesamard_aspect_amazon_complaints.csv"):
        text = f"{r.get('Title', '')}. {r.get('Review_S', '')}".replace("\\n", " ")
        if r.get("Complaint") in ("0", "1"):
            out.append((" ".join(text.split())[:1500], int(r["Complaint"])))
    return out


# ------------------------------------------------------------------ Chinese ----------
def _emotion(label: str) -> int | None:
    label = label.strip().lower()
    if label in ZH_NEG_EMOTIONS:
        return 1
    if label in ZH_NOT_EMOTIONS:
        return 0
    return None


def nlpcc2013(d: Path) -> Rows:
    out = []
    for r in _csv_rows(d / "zh" / "nlpcc2013_weibo_emotion.csv"):
        y = _emotion(r["标签"])
        if y is not None:
            out.append((r["文本"], y))
    return out


def nlpcc2014(d: Path) -> Rows:
    out = []
    root = ET.parse(d / "zh" / "nlpcc2014_weibo_emotion_test.xml").getroot()
    for post in root.iter("weibo"):
        y = _emotion(post.get("emotion-type1", ""))
        if y is not None:
            out.append(("".join((s.text or "") for s in post.iter("sentence")), y))
    return out


def smp2020(d: Path) -> Rows:
    out = []
    for path in sorted((d / "zh" / "smp2020_ewect").glob("*.txt")):
        with open(path, encoding="utf-8") as fh:
            for rec in json.load(fh):
                y = _emotion(str(rec.get("label", "")))
                if y is not None and rec.get("content"):
                    out.append((str(rec["content"]), y))
    return out


def weibo_senti(d: Path) -> Rows:
    return [
        (r["review"].lstrip("\ufeff"), int(r["label"] == "0"))
        for r in _csv_rows(d / "zh" / "weibo_senti_100k_subset2400.csv")
    ]


def car_forum(d: Path) -> Rows:
    posts: dict[str, tuple[str, int]] = {}
    for r in _csv_rows(d / "zh" / "ccf_bdci2018_car_forum_aspects.csv"):
        prev = posts.get(r["content_id"], (r["content"], 0))
        posts[r["content_id"]] = (prev[0], max(prev[1], int(r["sentiment_value"] == "-1")))
    return list(posts.values())


LOADERS = {
    "complaints_preotiuc2019": ("en", complaints),
    "apple_twitter": ("en", apple),
    "sxsw_brands": ("en", sxsw),
    "sanders": ("en", sanders),
    "tweeteval": ("en", tweeteval),
    "cesamard_amazon": ("en", cesamard),
    "nlpcc2013_weibo": ("zh", nlpcc2013),
    "nlpcc2014_weibo": ("zh", nlpcc2014),
    "smp2020_weibo": ("zh", smp2020),
    "weibo_senti_2400": ("zh", weibo_senti),
    "car_forum": ("zh", car_forum),
}

_RT = re.compile(r"^RT @\w+:?\s*")


def load_all(data: Path | None = None) -> dict[str, tuple[str, Rows, Rows]]:
    """{set name: (lang, train rows, held-out rows)} for every set whose file exists."""
    data = data or default_data_dir()
    out = {}
    for name, (lang, loader) in LOADERS.items():
        try:
            rows = loader(data)
        except FileNotFoundError:
            continue
        rows = [(_RT.sub("", t), y) for t, y in rows]
        out[name] = (lang, *split(rows))
    return out


if __name__ == "__main__":
    for name, (lang, train, held) in load_all().items():
        pos = sum(y for _, y in train + held)
        print(f"{name:<26}{lang}  train {len(train):>6}  held-out {len(held):>5}  complaint {pos}")
