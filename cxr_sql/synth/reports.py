"""Free-text chest x-ray reports in the layout of MIMIC-CXR, and the labels they imply.

Layout: a centred `FINAL REPORT` title, upper-case headers ending in a colon,
lines of at most 79 characters that start with a space, blank lines holding a
single space, `___` where PHI was removed, and addenda at the top, separated from
the original report by a line of underscores. A share of reports uses older
layouts, rare or misspelt headers, or no headers at all.

All wording is written for this generator; no real report text is used.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

CHEXPERT_LABELS = (
    "Atelectasis",
    "Cardiomegaly",
    "Consolidation",
    "Edema",
    "Enlarged Cardiomediastinum",
    "Fracture",
    "Lung Lesion",
    "Lung Opacity",
    "No Finding",
    "Pleural Effusion",
    "Pleural Other",
    "Pneumonia",
    "Pneumothorax",
    "Support Devices",
)

POSITIVE, NEGATIVE, UNCERTAIN = 1.0, 0.0, -1.0

# label: (positive sentences, negative sentence, uncertain sentence, chance positive)
_PHRASES: dict[str, tuple[tuple[str, ...], str, str, float]] = {
    "Atelectasis": (
        ("Mild bibasilar atelectasis.", "Linear atelectasis at the left lung base."),
        "No significant atelectasis.",
        "Left basilar opacity may reflect atelectasis.",
        0.15,
    ),
    "Cardiomegaly": (
        ("The heart is moderately enlarged.", "Mild cardiomegaly is unchanged."),
        "Heart size is normal.",
        "The cardiac silhouette is borderline enlarged.",
        0.14,
    ),
    "Consolidation": (
        ("Focal consolidation in the right lower lobe.",),
        "No focal consolidation.",
        "Possible developing consolidation at the left base.",
        0.06,
    ),
    "Edema": (
        ("Mild pulmonary vascular congestion and interstitial edema.",),
        "No pulmonary edema.",
        "Hazy perihilar opacities could represent mild edema.",
        0.11,
    ),
    "Enlarged Cardiomediastinum": (
        ("The mediastinum is widened.",),
        "The mediastinal contours are normal.",
        "The mediastinum may be slightly widened.",
        0.03,
    ),
    "Fracture": (
        ("Healing fracture of a left posterior rib.",),
        "No displaced rib fracture.",
        "Possible nondisplaced fracture of a right rib.",
        0.02,
    ),
    "Lung Lesion": (
        ("A 1.5 cm nodule projects over the right upper lobe.",),
        "No suspicious pulmonary nodule.",
        "A small nodular opacity may be a nipple shadow.",
        0.03,
    ),
    "Lung Opacity": (
        ("Patchy opacities in both lower lobes.",),
        "The lungs are clear.",
        "Faint opacity in the right mid lung.",
        0.2,
    ),
    "Pleural Effusion": (
        ("Small bilateral pleural effusions.", "Moderate right pleural effusion."),
        "No pleural effusion.",
        "Possible small left pleural effusion.",
        0.18,
    ),
    "Pleural Other": (
        ("Pleural thickening at the left apex.",),
        "No pleural thickening.",
        "Possible pleural plaque along the right hemithorax.",
        0.01,
    ),
    "Pneumonia": (
        ("Findings are concerning for pneumonia in the left lower lobe.",),
        "No evidence of pneumonia.",
        "Pneumonia cannot be excluded.",
        0.07,
    ),
    "Pneumothorax": (
        ("Small right apical pneumothorax.", "Moderate left pneumothorax."),
        "No pneumothorax.",
        "A tiny apical pneumothorax is questioned.",
        0.04,
    ),
    "Support Devices": (
        (
            "Endotracheal tube terminates 4 cm above the carina.",
            "Right internal jugular catheter ends in the mid SVC.",
            "Nasogastric tube courses below the diaphragm.",
        ),
        "No lines or tubes.",
        "A catheter tip may project over the right atrium.",
        0.22,
    ),
}

EXAMINATIONS = (
    ("CHEST (PA AND LAT)", "Chest PA and lateral"),
    ("CHEST (PORTABLE AP)", "Chest AP portable"),
    ("CHEST (PA AND LAT)", "PA and lateral views of the chest"),
    ("CHEST (SINGLE VIEW)", "Single frontal view of the chest"),
)
INDICATIONS = (
    "___ year old woman with shortness of breath  // eval for pneumonia",
    "___ year old man with fever and cough  // ?infiltrate",
    "___ with chest pain",
    "History: ___M with hypoxia",
    "___F s/p line placement  // confirm position",
    "___ year old man intubated  // ETT position",
)
MISSPELT = {"FINDINGS": "FINDNGS", "IMPRESSION": "IMPRESSON", "COMPARISON": "COMPARISION"}
UNDERSCORE_LINE = " " + "_" * 78


@dataclass(frozen=True)
class Report:
    text: str
    labels: dict[str, float | None]  # CheXpert label -> 1.0, 0.0, -1.0 or None


def wrap(text: str, width: int = 78) -> list[str]:
    """Greedy word wrap keeping double spaces between sentences; each line gets the
    leading space MIMIC-CXR reports have, and no line ends in a space."""
    lines: list[str] = []
    current = ""
    for word in text.split(" "):
        if len(current) + 1 + len(word) <= width or not current.strip():
            current = f"{current} {word}" if current else word
        else:
            lines.append(" " + current.rstrip())
            current = word
    if current.strip():
        lines.append(" " + current.rstrip())
    return lines


def draw_labels(rng: random.Random) -> dict[str, float | None]:
    """A label state per CheXpert label; `No Finding` follows from the others."""
    labels: dict[str, float | None] = {}
    for name, (_, _, _, chance) in _PHRASES.items():
        roll = rng.random()
        if roll < chance:
            labels[name] = POSITIVE
        elif roll < chance + 0.03:
            labels[name] = UNCERTAIN
        elif roll < chance + 0.25:
            labels[name] = NEGATIVE
        else:
            labels[name] = None
    pathology = [v for k, v in labels.items() if k != "Support Devices"]
    labels["No Finding"] = POSITIVE if all(v in (None, NEGATIVE) for v in pathology) else None
    return {name: labels[name] for name in CHEXPERT_LABELS}


def _sentences(rng: random.Random, labels: dict[str, float | None]) -> tuple[list[str], list[str]]:
    """Findings sentences and impression sentences for the label states."""
    findings, impression = [], []
    for name, state in labels.items():
        if name == "No Finding" or state is None:
            continue
        positives, negative, uncertain, _ = _PHRASES[name]
        if state == POSITIVE:
            sentence = rng.choice(positives)
            findings.append(sentence)
            impression.append(sentence)
        elif state == UNCERTAIN:
            findings.append(uncertain)
            impression.append(uncertain)
        else:
            findings.append(negative)
    if not impression:
        impression.append(rng.choice(("No acute cardiopulmonary process.", "No acute findings.")))
    if rng.random() < 0.05:
        impression.append("Dr. ___ was notified by telephone at ___ on ___.")
    return findings or ["The lungs are clear."], impression


def _section(header: str, body: str, rng: random.Random) -> list[str]:
    """A header and its text: inline after the header, or below it after a blank line."""
    if rng.random() < 0.5 and len(header) + len(body) + 4 <= 79:
        return [f" {header}:  {body}", " "]
    return [f" {header}: ", " ", *wrap(body), " "]


def _header(name: str, rng: random.Random) -> str:
    return MISSPELT[name] if name in MISSPELT and rng.random() < 0.02 else name


def render_report(rng: random.Random) -> Report:
    """One report and the CheXpert labels its wording implies."""
    labels = draw_labels(rng)
    findings, impression = _sentences(rng, labels)
    exam, technique = rng.choice(EXAMINATIONS)
    layout = rng.choices(
        ("modern", "older", "impression_only", "combined", "no_headers"),
        weights=(72, 14, 7, 4, 3),
    )[0]
    lines = ["                                 FINAL REPORT"]
    if layout == "modern":
        lines += _section("EXAMINATION", exam, rng)
        lines += _section("INDICATION", rng.choice(INDICATIONS), rng)
        lines += _section("TECHNIQUE", technique, rng)
        lines += _section(
            _header("COMPARISON", rng), rng.choice(("___", "None.", "___ and ___")), rng
        )
        lines += _section(_header("FINDINGS", rng), "  ".join(findings), rng)
        lines += _section(_header("IMPRESSION", rng), "  ".join(impression), rng)
    elif layout == "older":
        lines += [f" {exam.replace('(', '').replace(')', '')} PERFORMED ON ___", " "]
        lines += _section(_header("COMPARISON", rng), "Prior exam from ___.", rng)
        lines += _section("CLINICAL HISTORY", rng.choice(INDICATIONS), rng)
        lines += _section(_header("FINDINGS", rng), f"{technique}.  " + "  ".join(findings), rng)
        lines += _section(_header("IMPRESSION", rng), "  ".join(impression), rng)
    elif layout == "impression_only":
        lines += _section("INDICATION", rng.choice(INDICATIONS), rng)
        lines += _section(_header("IMPRESSION", rng), "  ".join(findings + impression), rng)
        if rng.random() < 0.3:
            lines += _section("RECOMMENDATION(S)", "Follow-up radiograph in 6 weeks.", rng)
    elif layout == "combined":
        lines += _section("INDICATION", rng.choice(INDICATIONS), rng)
        lines += _section("FINDINGS AND IMPRESSION", "  ".join(findings + impression), rng)
        lines += _section("NOTIFICATION", "The findings were discussed with Dr. ___.", rng)
    else:
        lines += [f" {exam.replace('(', '').replace(')', '')} ___", " "]
        lines += [*wrap("  ".join(findings)), " "]
        lines += [*wrap("  ".join(impression)), " "]
    if rng.random() < 0.04:
        lines = [
            "                                 FINAL ADDENDUM",
            *wrap(
                "ADDENDUM:  "
                + rng.choice(
                    (
                        "Upon review, the nasogastric tube terminates in the stomach.",
                        "Comparison was made with the study of ___, which shows no change.",
                        "The findings were communicated to Dr. ___ at ___.",
                    )
                )
            ),
            " ",
            UNDERSCORE_LINE,
            *lines,
        ]
    while lines[-1] == " ":
        lines.pop()
    return Report("\n".join(lines) + "\n", labels)


def negbio_labels(rng: random.Random, chexpert: dict[str, float | None]) -> dict[str, float | None]:
    """NegBio's labels: CheXpert's with the disagreements two labelers really have."""
    changed = {POSITIVE: UNCERTAIN, UNCERTAIN: POSITIVE, NEGATIVE: None}
    return {
        name: changed[value] if value is not None and rng.random() < 0.06 else value
        for name, value in chexpert.items()
    }
