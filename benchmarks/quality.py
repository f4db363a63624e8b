"""Ranking quality on real arXiv months, with ground truth the ranker never sees.

Run ``python benchmarks/quality.py`` from the repository root (the real data is read
from ``../shared/data/arxiv`` or ``$TRENDDIGEST_SHARED/data/arxiv``; nothing is copied).
It writes ``benchmarks/results/quality.md``.

How the ground truth is built, and why the ranker cannot use it
-----------------------------------------------------------------
Every method (ours and both baselines) gets papers built by :func:`ranker_view`, which
copies only the fields the task allows; arXiv classes, comments and authors are never
passed on.  Two tasks:

**A. Curated categories, title held out** (what users care about: "are the papers
under Knowledge Distillation about distillation?").  The packaged categories
(``load_categories(None)``) are ranked on *abstracts only*: every paper's title is
blanked.  A paper is relevant to a category when its hidden **title** matches that
category's pattern in :data:`TITLE_RULES` (written here, by hand, once per category;
the ranker never reads this file).  A title is the authors' own one-line statement of
what a paper is about, so "title says distillation" is a high-precision judgement of
"this paper is about distillation", while an abstract that merely mentions
distillation in passing is not counted.  Limitations: recall of the labels is partial
(a paper about distillation whose title never says so counts as a miss for every
method alike, so absolute precision is a lower bound); the title-held-out setting
cannot measure title weighting; patterns inevitably share words with the keywords
(that is the topic's definition, not a leak: the labels come from a field the ranker
does not receive).

**B. Zero-shot arXiv classes, full text.**  Eight categories written here from arXiv's
own subject-class descriptions (:data:`ZERO_SHOT`: robotics, graphics, audio and speech,
security, retrieval, HCI, computers and society, multi-agent systems), ranked on title
+ abstract.  A paper is relevant when its hidden arXiv classes include the class
(primary or cross-list), a judgement made by the authors and arXiv moderators.  The
keyword lists were written once before the first run and not tuned afterwards.
Limitations: the crawl holds only papers listed in cs.CV/cs.CL/cs.AI (so these are
cross-lists of vision/language papers), and authors under-cross-list (a robot-grasping
paper filed only under cs.CV counts as not robotics), so absolute numbers are low for
every method; it measures relative ranking quality on unseen topics.

Off-topic papers (point 4 of the issue): in task A, papers whose only arXiv class is
cs.CL and whose hidden title matches no category pattern and none of the vision /
learning words in :data:`VISION_OR_LEARNING` (pure NLP papers: corpora, dialects,
legal QA...); in task B, papers whose only arXiv class is cs.CL or cs.CV (the authors
filed them under no other field).  Reported: the share of them that are placed in
some category (lower is better).

Metrics, per category and macro-averaged over categories with at least
:data:`MIN_RELEVANT` relevant papers in the month: precision@10, precision@25 (a short
list counts its missing places as misses), nDCG@10 with binary relevance (ideal DCG
from all relevant papers of the month), "right category": of the papers relevant to
at least one category, the share the method places under one of their categories,
and the off-topic share.  Baselines place a paper as follows: the keyword filter lists
it under every category with a matching keyword and "places" it under the one with
the most matched keywords; TF-IDF places it under its most similar profile.

Baselines, same papers, same categories, same run:
(a) keyword alert: a paper matches a category when any keyword appears (case-
insensitive, at a word start) in title or abstract; matches listed newest first
(highest id).  (b) arxiv-sanity-lite's TF-IDF (word 1-2-grams, English stop words,
sublinear tf, min_df 5, max_df 0.1, max_features 20000, L2), fitted on the month, with
plain cosine between paper and category profile (name, description, keywords repeated
by weight, exemplar titles).
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import os
import re
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

from trenddigest.categories import Category, Exemplar, Keyword, load_categories  # noqa: E402
from trenddigest.config import RankConfig  # noqa: E402
from trenddigest.models import Paper  # noqa: E402
from trenddigest.rank import rank_papers  # noqa: E402

RESULTS = REPO / "benchmarks" / "results" / "quality.md"
DATA_FILES = (
    "daily-arxiv-ai-enhanced/derived/papers_2025-04_to_2025-07.derived.jsonl.gz",
    "daily-arxiv-ai-enhanced/derived/papers_2026-03_to_2026-05.derived.jsonl.gz",
)
MONTHS = ("2025-05", "2025-06", "2026-04")
BACKGROUND_MONTHS = 2  # earlier months passed as background, as the pipeline does
MIN_RELEVANT = 5
KS = (10, 25)


def shared_data_dir() -> Path:
    return Path(os.environ.get("TRENDDIGEST_SHARED", REPO.parent / "shared")) / "data" / "arxiv"


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class Record:
    """A real paper with every field; only :func:`ranker_view` decides what a method sees."""

    id: str
    title: str
    abstract: str
    classes: tuple[str, ...]

    @property
    def yymm(self) -> str:
        return self.id[:4]


def load_records(data_dir: Path | None = None) -> dict[str, list[Record]]:
    """All papers of the shared files, grouped by the YYMM of their id, sorted by id."""
    data_dir = data_dir or shared_data_dir()
    by_month: dict[str, list[Record]] = {}
    for name in DATA_FILES:
        with gzip.open(data_dir / name, "rt", encoding="utf-8") as fh:
            for line in fh:
                d = json.loads(line)
                if "/" in d["id"]:
                    continue
                rec = Record(
                    d["id"], " ".join(d["title"].split()), " ".join(d["abstract"].split()),
                    tuple(d["categories"]),
                )
                by_month.setdefault(rec.yymm, []).append(rec)
    for recs in by_month.values():
        recs.sort(key=lambda r: id_key(r.id))
    return by_month


def id_key(arxiv_id: str) -> tuple[str, int]:
    yymm, _, num = arxiv_id.partition(".")
    return yymm, int(num)


def yymm(month: str) -> str:
    return month[2:4] + month[5:7]


def earlier(month: str, n: int) -> list[str]:
    y, m = int(month[:4]), int(month[5:7])
    out = []
    for _ in range(n):
        y, m = (y, m - 1) if m > 1 else (y - 1, 12)
        out.append(f"{y:04d}-{m:02d}")
    return out


def ranker_view(rec: Record, *, title: bool) -> Paper:
    """What a method may see: the id, the abstract and (task B only) the title."""
    return Paper(id=rec.id, title=rec.title if title else "", abstract=rec.abstract)


# --------------------------------------------------------------------------- labels

# Medical imaging words, shared by the three medical categories' rules.
_MEDICAL = (
    r"\b(medical|clinical|patients?|organs?|tumou?r|lesion|polyp|cancer|ct|mri|x-?rays?|"
    r"ultrasound|patholog|histolog|whole[- ]slide|radiolog|mammogra|dermo|skin|fundus|retina|"
    r"brain|cardiac|echocardio|lungs?|liver|kidney|prostate|pancrea|breast|dental|tooth|teeth|"
    r"endoscop|surgical|surgery|nucle|cells?|disease|diagnos|covid|alzheimer|glaucoma)"
)
# A paper is about images when arXiv files it under vision or its title says so.
_VISUAL_CLASSES = frozenset({"cs.CV", "eess.IV"})
_VISUAL_TITLE = r"imag|visual|vision|video|scan|x-?ray|slide|\bmri\b|\bct\b|ultrasound|endoscop"


@dataclass(frozen=True)
class Rule:
    """A title is labelled when it matches ``match``, every ``also`` and not ``unless``.

    ``visual``: the paper must also be about images (hidden arXiv class cs.CV/eess.IV,
    or an imaging word in the title).  ``visual_match``: an extra pattern that labels
    the title only for such image papers ("transformer" means ViT only in vision).
    """

    match: str
    also: tuple[str, ...] = ()
    unless: str = ""
    visual: bool = False
    visual_match: str = ""

    def test(self, title: str, classes: tuple[str, ...]) -> bool:
        visual = bool(_VISUAL_CLASSES & set(classes)) or bool(re.search(_VISUAL_TITLE, title, re.I))
        hit = bool(re.search(self.match, title, re.I))
        if not hit and self.visual_match and visual:
            hit = bool(re.search(self.visual_match, title, re.I))
        if not hit or (self.visual and not visual):
            return False
        if any(not re.search(p, title, re.I) for p in self.also):
            return False
        return not (self.unless and re.search(self.unless, title, re.I))


# Task A: what a title must say for the paper to be about each packaged category.
# Written from the category descriptions, once; not tuned against any method.
TITLE_RULES: dict[str, Rule] = {
    "Vision Transformers": Rule(
        r"vision transformer|\bvi ?ts?\b|\bswin\b|image transformer|vision mamba|"
        r"token (pruning|merging|reduction|compression)|patch tokens?",
        visual_match=r"transformer",
    ),
    "Network Architectures & Efficient Models": Rule(
        r"architecture search|\bnas\b|backbone|convnet|convolutional neural net|\bcnns?\b|"
        r"efficient (network|architecture|backbone|vision|model)|lightweight|\\bmobile|resnet|"
        r"image classification|network design|efficientnet"
    ),
    "Model Compression: Pruning & Quantization": Rule(
        r"prun|quantiz|model compression|compressing|low-bit|\b[1-8]-bit|binar(y|ized) neural|"
        r"lottery ticket|kv[- ]cache|sparsif|mixed[- ]precision",
        unless=r"vector[- ]quantiz|image compression|video compression",
    ),
    "Knowledge Distillation": Rule(
        r"distil", unless=r"score distillation|dataset distillation|data(set)? condensation"
    ),
    "Self-Supervised & Contrastive Learning": Rule(
        r"self-?supervis|contrastive (learning|pre-?training|representation|loss)|"
        r"masked (image model|autoencod)|\bjepa\b|\bdino(v2|v3)?\b|"
        r"unsupervised (visual )?representation"
    ),
    "Semi-Supervised Learning": Rule(r"semi-?supervis|pseudo-?label|self-training|mean teacher"),
    "Weakly-Supervised & Label-Efficient Learning": Rule(
        r"weakly[- ]supervis|weak supervision|noisy labels?|label noise|active learning|scribble|"
        r"point[- ]supervis|multiple instance learning|label[- ]efficient|annotation[- ]efficient"
    ),
    "Training, Optimization & Regularization": Rule(
        r"optimi[sz]ers?\b|\bsgd\b|\badam\b|learning rates?|batch size|loss landscape|"
        r"sharpness|training dynamics|generali[sz]ation (bound|gap)|batch ?norm|weight decay|"
        r"regulari[sz]ation|data augmentation|mixup|scaling laws?|implicit bias|grokking"
    ),
    "Explainable AI (XAI)": Rule(
        r"explainab|explanation|interpretab|saliency|attribution|grad-?cam|concept bottleneck|"
        r"shapley|\bxai\b|sparse autoencoder|mechanistic",
        unless=r"authorship attribution",
    ),
    "Adversarial Robustness": Rule(
        r"adversarial|backdoor|jailbreak|prompt injection|poisoning|certified robust|"
        r"corruption robustness",
        unless=r"generative adversarial",
    ),
    "Domain Adaptation & Transfer Learning": Rule(
        r"domain adapt|domain generali[sz]|domain shift|test-time adapt|distribution shift|"
        r"transfer learning|cross-domain|domain gap|domain-invariant|unseen domains?|source-free"
    ),
    "Few-Shot, Meta- & Continual Learning": Rule(
        r"few-shot|meta-learn|continual|incremental learning|class-incremental|lifelong|"
        r"catastrophic forgetting|prototypical network|one-shot"
    ),
    "Object Detection": Rule(
        r"object detect|detectors?\b|\bdetr\b|yolo|bounding box|object localization|"
        r"pedestrian detection|vehicle detection|(3d|small|oriented|open-vocabulary|open-set|"
        r"camouflaged|salient|rotated|aerial|infrared|tiny) (object )?detection",
        unless=r"anomal|out-of-distribution|deepfake|forgery|hallucination|ai-generated|"
        r"machine-generated|llm-generated|fake",
    ),
    "Semantic & Instance Segmentation": Rule(
        r"segment", unless=_MEDICAL + r"|word segment|customer segment|speech|text segment"
    ),
    "Medical Image Segmentation": Rule(r"segment", also=(_MEDICAL,), visual=True),
    "Medical Image Registration": Rule(
        r"registration|diffeomorph|deformation field|voxelmorph", unless=r"point cloud|lidar"
    ),
    "Medical Image Analysis & Diagnosis": Rule(
        _MEDICAL, unless=r"segment|registration", visual=True
    ),
    "Anomaly & Out-of-Distribution Detection": Rule(
        r"anomal|out-of-distribution|\bood\b|novelty detection|defect|outlier detection|"
        r"open-set recognition|uncertainty (estimation|quantification)"
    ),
    "Optical Flow & Correspondence": Rule(
        r"optical flow|scene flow|frame interpolation|correspondence|"
        r"(feature|image|keypoint|dense|local feature|stereo) matching|point tracking|"
        r"homography|motion estimation"
    ),
    "Video Understanding & Tracking": Rule(
        r"video (understanding|question|qa|grounding|reasoning|recognition|llm|language model|"
        r"retrieval|captioning)|action (recognition|localization|detection|segmentation|"
        r"anticipation)|tracking|tracker|temporal (grounding|action|localization)|long video|"
        r"long-form video|egocentric",
        unless=r"eye[- ]tracking",
    ),
    "Generative Models: GANs & Diffusion": Rule(
        r"diffusion|generative adversarial|\bgans?\b|flow matching|text-to-(image|video|3d)|"
        r"image generation|video generation|image synthesis|image editing|style transfer|"
        r"autoregressive (image|visual)|generative model",
        unless=r"diffusion (mri|tensor|weighted)|information diffusion",
    ),
    "Image Restoration & Super-Resolution": Rule(
        r"restoration|super-?resolution|denois|deblur|dehaz|derain|desnow|low-light|"
        r"image enhancement|inpainting|underwater image|shadow removal|reflection removal",
        unless=r"speech|audio",
    ),
    "3D Vision & Neural Rendering": Rule(
        r"nerf|radiance field|gaussian splatting|\b3dgs\b|novel[- ]view|view synthesis|"
        r"depth estimation|monocular depth|point clouds?|\bmesh|\bslam\b|"
        r"3d (reconstruction|scene|generation|shape|representation|vision|understanding|"
        r"gaussian)|surface reconstruction|scene reconstruction|multi-view stereo|"
        r"structure from motion|camera pose|visual localization|odometry"
    ),
    "Vision-Language & Multimodal Models": Rule(
        r"vision[- ]language|\bvlms?\b|\blvlms?\b|\bmllms?\b|multi-?modal large|"
        r"multi-?modal (llm|language model)|\bclip\b|image-text|captioning|visual question|"
        r"\bvqa\b|visual grounding|referring|visual reasoning|visual instruction"
    ),
    "Face & Human Pose Analysis": Rule(
        r"\bfaces?\b|facial|human pose|body pose|hand pose|multi-person pose|human mesh|"
        r"body mesh|re-identification|\breid\b|person search|\bgait\b|"
        r"(facial|emotion|micro-) ?expression|"
        r"anti-spoof"
    ),
    "Reinforcement Learning": Rule(
        r"reinforcement|\brl\b|policy (optimization|gradient)|reward|\brlhf\b|\bgrpo\b|"
        r"\bppo\b|\bdpo\b|q-learning|actor-critic|markov decision|bandit|preference optimization"
    ),
    "Graph Neural Networks": Rule(
        r"graph neural|\bgnns?\b|graph convolution|\bgcns?\b|message passing|"
        r"graph transformer|node classification|link prediction|graph representation|"
        r"graph learning|heterogeneous graph|hypergraph"
    ),
}

# Vision / learning words: a cs.CL-only paper whose title has none of these (and no
# category pattern) is clearly off-topic for the curated vision-and-learning topics.
VISION_OR_LEARNING = (
    r"imag|vision|visual|video|pixel|multi-?modal|\bvlms?\b|\b3d\b|scene|camera|"
    r"learn|train|neural|network|distill|supervis|contrastive|prun|quantiz|compress|"
    r"explain|interpret|anomal|detect|segment|medical|transformer|diffusion|generat|"
    r"represent|embedding|attention|architecture|robust|adversarial|reinforcement"
)


def _zs(name: str, classes: tuple[str, ...], description: str, keywords: list) -> tuple:
    kws = [Keyword(k, 1.0) if isinstance(k, str) else Keyword(k[0], k[1]) for k in keywords]
    return Category(name, description, kws), classes


# Task B: written once from arXiv's subject-class descriptions, before the first run.
ZERO_SHOT: list[tuple[Category, tuple[str, ...]]] = [
    _zs(
        "Robotics", ("cs.RO",),
        "Robots that sense and act in the physical world: manipulation, grasping, "
        "locomotion, navigation, motion planning and control, and learning robot policies.",
        [("robot", 2.0), "robotic", "manipulation", "grasping", "locomotion", "motion planning",
         "navigation", "embodied", "vision-language-action", "humanoid", "quadruped",
         "sim-to-real", "teleoperation", "end-effector", "autonomous driving"],
    ),
    _zs(
        "Computer Graphics", ("cs.GR",),
        "Synthesis and rendering of images, shapes and animation: rendering, meshes, "
        "neural rendering, character animation, 3D content creation, geometry processing.",
        [("rendering", 2.0), ("computer graphics", 2.0), "mesh", "animation",
         "neural rendering", "gaussian splatting", "texture", "geometry processing",
         "avatar", "shading", "ray tracing", "3D content creation", "motion synthesis"],
    ),
    _zs(
        "Audio and Speech", ("cs.SD", "eess.AS"),
        "Computing with sound: speech recognition and synthesis, audio generation, music, "
        "sound event detection and audio signal processing.",
        [("speech", 2.0), ("audio", 2.0), "speech recognition", "text-to-speech", "speaker",
         "music", "sound", "acoustic", "ASR", "spoken language", "voice"],
    ),
    _zs(
        "Security and Privacy", ("cs.CR",),
        "Cryptography and security: attacks and defences, privacy, authentication, "
        "adversarial and backdoor attacks, jailbreaks, watermarking and secure systems.",
        [("security", 2.0), ("privacy", 2.0), "attack", "adversarial attack", "backdoor",
         "jailbreak", "watermark", "differential privacy", "malware", "encryption",
         "membership inference", "vulnerability"],
    ),
    _zs(
        "Information Retrieval", ("cs.IR",),
        "Indexing, search and retrieval of documents and content, ranking, recommender "
        "systems and retrieval-augmented generation.",
        [("information retrieval", 2.0), "retrieval", ("recommendation", 2.0),
         "recommender system", "search engine", "ranking", "retrieval-augmented generation",
         "query", "re-ranking", "dense retrieval", "collaborative filtering"],
    ),
    _zs(
        "Human-Computer Interaction", ("cs.HC",),
        "Human factors, user interfaces and collaborative computing: user studies, "
        "interaction design, accessibility, and how people use AI tools.",
        [("user study", 2.0), ("human-computer interaction", 2.0), "user interface",
         "participants", "interaction design", "accessibility", "usability", "interview",
         "visualization", "user experience"],
    ),
    _zs(
        "Computers and Society", ("cs.CY",),
        "The impact of computing on society: ethics, fairness, education, public policy, "
        "law and the social effects of AI.",
        [("ethics", 2.0), "society", "fairness", "bias", "education", "policy", "legal",
         "social impact", "misinformation", "students", "governance", "regulation"],
    ),
    _zs(
        "Multi-Agent Systems", ("cs.MA",),
        "Multiagent systems and distributed AI: several interacting agents, coordination, "
        "cooperation, negotiation, multi-agent reinforcement learning, collectives of agents.",
        [("multi-agent", 2.0), "agents", "multi-agent reinforcement learning", "coordination",
         "cooperation", "negotiation", "agent collaboration", "decentralized",
         "agent communication", "swarm"],
    ),
]


@dataclass
class Task:
    """One evaluation setting: categories, what methods see, and the hidden labels."""

    key: str
    title: str
    categories: list[Category]
    show_title: bool
    label: Callable[[Record], set[str]]
    off_topic: Callable[[Record], bool]


def curated_task(categories: list[Category]) -> Task:
    rules = {c.name: TITLE_RULES[c.name] for c in categories if c.name in TITLE_RULES}
    vision = re.compile(VISION_OR_LEARNING, re.I)

    def label(rec: Record) -> set[str]:
        return {name for name, rule in rules.items() if rule.test(rec.title, rec.classes)}

    def off_topic(rec: Record) -> bool:
        return rec.classes == ("cs.CL",) and not label(rec) and not vision.search(rec.title)

    return Task("A", "curated categories, title held out", categories, False, label, off_topic)


def zero_shot_task() -> Task:
    classes = {cat.name: set(cls) for cat, cls in ZERO_SHOT}

    def label(rec: Record) -> set[str]:
        return {name for name, cls in classes.items() if cls & set(rec.classes)}

    def off_topic(rec: Record) -> bool:
        return rec.classes in (("cs.CL",), ("cs.CV",))

    return Task("B", "zero-shot arXiv classes, full text", [c for c, _ in ZERO_SHOT], True,
                label, off_topic)


# --------------------------------------------------------------------------- metrics


def precision_at_k(ranked: Sequence[str], relevant: set[str], k: int) -> float:
    """Share of the first ``k`` places holding a relevant paper; empty places are misses."""
    return sum(1 for pid in ranked[:k] if pid in relevant) / k


def ndcg_at_k(ranked: Sequence[str], relevant: set[str], k: int) -> float:
    """Binary-relevance nDCG; the ideal list puts min(k, |relevant|) hits first."""
    dcg = sum(1 / math.log2(i + 2) for i, pid in enumerate(ranked[:k]) if pid in relevant)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(k, len(relevant))))
    return dcg / ideal if ideal else 0.0


def right_category_share(assigned: dict[str, str], labels: dict[str, set[str]]) -> float:
    """Of the papers with a label, the share placed under one of their categories."""
    labelled = [pid for pid, names in labels.items() if names]
    if not labelled:
        return 0.0
    return sum(1 for pid in labelled if assigned.get(pid) in labels[pid]) / len(labelled)


def placed_share(assigned: dict[str, str], ids: Iterable[str]) -> float:
    ids = list(ids)
    return sum(1 for pid in ids if pid in assigned) / len(ids) if ids else 0.0


# --------------------------------------------------------------------------- methods


@dataclass
class Output:
    """A method's answer: ranked ids per category and the category each paper is placed in."""

    lists: dict[str, list[str]]
    assigned: dict[str, str]
    seconds: float = 0.0


def _keyword_regex(term: str) -> tuple[str, re.Pattern[str]]:
    return term.lower(), re.compile(r"(?<!\w)" + re.escape(term.lower()))


def keyword_baseline(papers: list[Paper], categories: list[Category], **_: object) -> Output:
    """Keyword alert: any keyword in title or abstract; newest (highest id) first."""
    start = time.perf_counter()
    patterns = [[_keyword_regex(k.term) for k in c.keywords] for c in categories]
    lists: dict[str, list[str]] = {c.name: [] for c in categories}
    assigned: dict[str, str] = {}
    for paper in sorted(papers, key=lambda p: id_key(p.id), reverse=True):
        text = f"{paper.title} {paper.abstract}".lower()
        best, best_hits = None, 0
        for cat, pats in zip(categories, patterns, strict=True):
            hits = sum(1 for word, rx in pats if word in text and rx.search(text))
            if hits:
                lists[cat.name].append(paper.id)
                if hits > best_hits:
                    best, best_hits = cat.name, hits
        if best:
            assigned[paper.id] = best
    return Output(lists, assigned, time.perf_counter() - start)


def profile_text(category: Category) -> str:
    parts = [category.name, category.description]
    for kw in category.keywords:
        parts.extend([kw.term] * max(1, round(kw.weight)))
    parts.extend(ex.title for ex in category.papers)
    return ". ".join(parts)


def sanity_vectorizer() -> TfidfVectorizer:
    """arxiv-sanity-lite's feature extractor with the issue's settings."""
    return TfidfVectorizer(
        input="content", encoding="utf-8", decode_error="replace", strip_accents="unicode",
        lowercase=True, analyzer="word", stop_words="english",
        token_pattern=r"(?u)\b[a-zA-Z_][a-zA-Z0-9_]+\b", ngram_range=(1, 2),
        max_features=20000, norm="l2", use_idf=True, smooth_idf=True, sublinear_tf=True,
        max_df=0.1, min_df=5,
    )


def tfidf_baseline(papers: list[Paper], categories: list[Category], **_: object) -> Output:
    """arxiv-sanity-lite TF-IDF with plain cosine to each category profile."""
    start = time.perf_counter()
    vec = sanity_vectorizer()
    x = vec.fit_transform([f"{p.title} {p.abstract}" for p in papers])
    q = vec.transform([profile_text(c) for c in categories])
    sims = (x @ q.T).toarray()
    ids = [p.id for p in papers]
    lists = {}
    for j, cat in enumerate(categories):
        order = np.argsort(-sims[:, j], kind="stable")
        lists[cat.name] = [ids[i] for i in order if sims[i, j] > 0]
    assigned = {ids[i]: categories[int(np.argmax(row))].name
                for i, row in enumerate(sims) if row.max() > 0}
    return Output(lists, assigned, time.perf_counter() - start)


def ours(settings: RankConfig, rank: Callable = rank_papers) -> Callable[..., Output]:
    def run(papers: list[Paper], categories: list[Category], *, background: list[Paper]) -> Output:
        start = time.perf_counter()
        ranking = rank(papers, categories, settings, background=background)
        seconds = time.perf_counter() - start
        lists = {name: [rp.paper.id for rp in rps] for name, rps in ranking.by_category.items()}
        assigned = {rp.paper.id: name for name, rps in ranking.by_category.items() for rp in rps}
        return Output(lists, assigned, seconds)

    return run


# --------------------------------------------------------------------------- evaluation


@dataclass
class Scores:
    per_category: dict[str, dict[str, float]] = field(default_factory=dict)
    right: float = 0.0
    off_topic: float = 0.0
    placed: float = 0.0
    seconds: float = 0.0

    def mean(self, metric: str) -> float:
        vals = [m[metric] for m in self.per_category.values()]
        return sum(vals) / len(vals) if vals else 0.0


@dataclass
class MonthData:
    month: str
    records: list[Record]
    background: list[Record]


def score(task: Task, data: MonthData, out: Output) -> Scores:
    labels = {r.id: task.label(r) for r in data.records}
    result = Scores(seconds=out.seconds)
    for cat in task.categories:
        relevant = {pid for pid, names in labels.items() if cat.name in names}
        if len(relevant) < MIN_RELEVANT:
            continue
        ranked = out.lists.get(cat.name, [])
        result.per_category[cat.name] = {
            "p10": precision_at_k(ranked, relevant, 10),
            "p25": precision_at_k(ranked, relevant, 25),
            "ndcg10": ndcg_at_k(ranked, relevant, 10),
            "relevant": float(len(relevant)),
            "listed": float(len(ranked)),
        }
    result.right = right_category_share(out.assigned, labels)
    result.off_topic = placed_share(out.assigned, (r.id for r in data.records if task.off_topic(r)))
    result.placed = placed_share(out.assigned, labels)
    return result


def run_method(task: Task, data: MonthData, method: Callable[..., Output]) -> Scores:
    papers = [ranker_view(r, title=task.show_title) for r in data.records]
    background = [ranker_view(r, title=task.show_title) for r in data.background]
    out = method(papers, task.categories, background=background)
    return score(task, data, out)


def month_data(records: dict[str, list[Record]], month: str) -> MonthData:
    bg = [r for m in earlier(month, BACKGROUND_MONTHS) for r in records.get(yymm(m), [])]
    return MonthData(month, records[yymm(month)], bg)
