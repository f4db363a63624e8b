"""Synthetic papers for tests: made-up titles and abstracts with topical vocabulary.

No real arXiv text is used.  Each topic has a few hand-written sentence templates;
papers are combinations of them, seeded, so every run produces the same corpus.
"""

from __future__ import annotations

import gzip
import json
import random
import subprocess
from pathlib import Path

from trenddigest.models import Paper

TOPICS: dict[str, dict[str, list[str]]] = {
    "distillation": {
        "titles": [
            "Compact Students from Large Teachers via Knowledge Distillation",
            "Logit Matching Revisited for Knowledge Distillation",
            "Feature Distillation for Lightweight Detectors",
        ],
        "sentences": [
            "We distill the knowledge of a large teacher network into a compact student model.",
            "Our knowledge distillation loss aligns the soft targets of teacher and student.",
            "The student trained with distillation closes most of the gap to the teacher.",
            "Temperature-scaled logits transfer dark knowledge between networks.",
        ],
    },
    "detection": {
        "titles": [
            "Anchor-Free Object Detection with Dense Queries",
            "Small Object Detection in Aerial Images",
            "Rethinking Bounding Box Regression for Object Detectors",
        ],
        "sentences": [
            "We propose an object detector that predicts bounding boxes without anchors.",
            "Our detection head improves average precision on COCO object detection.",
            "Non-maximum suppression is replaced by a set prediction of boxes.",
            "The detector localizes small objects with a feature pyramid.",
        ],
    },
    "segmentation": {
        "titles": [
            "Boundary-Aware Semantic Segmentation of Street Scenes",
            "Panoptic Segmentation with Mask Queries",
        ],
        "sentences": [
            "We address semantic segmentation, assigning a class label to every pixel.",
            "Our segmentation network predicts sharper masks along object boundaries.",
            "Mean intersection over union improves on Cityscapes and ADE20K segmentation.",
        ],
    },
    "medical": {
        "titles": [
            "Deformable Registration of Brain MRI Volumes",
            "Tumor Segmentation in CT Scans with Uncertainty",
        ],
        "sentences": [
            "We study medical image analysis for MRI and CT scans of patients.",
            "Deformable image registration aligns volumes from different clinical visits.",
            "Radiologists annotated lesions in a new medical imaging dataset.",
        ],
    },
    "offtopic": {
        "titles": [
            "Crop Yield Forecasting from Soil Sensors",
            "A Survey of Tax Law Question Answering Services",
        ],
        "sentences": [
            "Farmers record soil moisture and rainfall every morning for the harvest season.",
            "Statutes, court rulings and tax codes are collected from public registries.",
            "Our spreadsheet of weekly prices covers wheat, barley and maize markets.",
        ],
    },
}


# A categories file of one topic the synthetic papers cover (knowledge distillation).
KD_CATEGORY_TOML = """
[[category]]
name = "Knowledge Distillation"
description = "Transferring what a large teacher network knows into a small student network."
keywords = ["knowledge distillation", { term = "teacher", weight = 2.0 }, "student", "distill"]
papers = [{ id = "1503.02531", title = "Distilling the Knowledge in a Neural Network" }]
"""


def make_papers(month: str = "2025-05", per_topic: int = 12, seed: int = 7) -> list[Paper]:
    """``per_topic`` papers for each topic, ids numbered within ``month`` (YYYY-MM).

    Numbers have 4 digits up to 2014 and 5 from 2015 on, as arXiv's do, so that the
    ids pass the importer's checks.
    """
    rng = random.Random(seed)
    yymm = month[2:4] + month[5:7]
    digits = 5 if month >= "2015-01" else 4
    papers: list[Paper] = []
    number = 1
    for topic, parts in TOPICS.items():
        for i in range(per_topic):
            title = parts["titles"][i % len(parts["titles"])]
            if i >= len(parts["titles"]):
                title = f"{title}: Variant {i}"
            sentences = rng.sample(parts["sentences"], k=min(3, len(parts["sentences"])))
            papers.append(
                Paper(
                    id=f"{yymm}.{number:0{digits}d}",
                    title=title,
                    abstract=" ".join(sentences),
                    authors=[f"Author {topic.title()} {i}", "Second Author", "Third Author"],
                    categories=["cs.CV", "cs.LG"] if topic != "offtopic" else ["econ.GN"],
                    primary_category="cs.CV" if topic != "offtopic" else "econ.GN",
                    published=f"{month}-{1 + i % 27:02d}T12:00:00+00:00",
                    updated=f"{month}-{1 + i % 27:02d}T12:00:00+00:00",
                    source="synthetic",
                )
            )
            number += 1
    return papers


def write_jsonl(path: Path, papers: list[Paper], gz: bool = False) -> Path:
    """Write papers in the shared-data JSON Lines format (the importer's main input)."""
    lines = []
    for p in papers:
        lines.append(
            json.dumps(
                {
                    "id": p.id,
                    "title": p.title,
                    "authors": p.authors,
                    "categories": p.categories,
                    "primary_category": p.primary_category,
                    "abstract": p.abstract,
                    "comment": p.comment,
                    "id_yymm": p.id[:4],
                    "first_seen": (p.published or "")[:10],
                }
            )
        )
    data = ("\n".join(lines) + "\n").encode()
    path.write_bytes(gzip.compress(data, mtime=0) if gz else data)
    return path


def refusing_repository(workdir: Path) -> None:
    """A git repository whose pre-commit hook refuses every commit: a failure only git
    can report, after the digest is written (nothing checked beforehand catches it)."""
    subprocess.run(["git", "init", "-q", str(workdir)], check=True)
    for key, value in (("user.name", "T"), ("user.email", "t@example.org")):
        subprocess.run(["git", "-C", str(workdir), "config", key, value], check=True)
    hook = workdir / ".git" / "hooks" / "pre-commit"
    hook.write_text("#!/bin/sh\necho 'commits are frozen' >&2\nexit 1\n")
    hook.chmod(0o755)


def categories_error(text: str, source: str) -> str:
    """The one-line ConfigError a categories file ``text`` (named ``source``) is refused with."""
    from trenddigest.categories import loads_categories
    from trenddigest.errors import ConfigError

    try:
        loads_categories(text, source)
    except ConfigError as exc:
        message = str(exc)
        assert "\n" not in message
        return message
    raise AssertionError(f"{source} was not refused")
