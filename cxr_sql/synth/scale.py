"""How much to generate: named scales, or a number of MIMIC-CXR subjects.

Counts keep the proportions of the real releases, so `full` gives MIMIC-CXR's
65,379 subjects, 227,835 studies and 377,110 images exactly, with MIMIC-IV
patients in MIMIC-IV 3.1's proportion (364,627 patients for the full set).
"""

from __future__ import annotations

from dataclasses import dataclass

FULL_SUBJECTS = 65_379
FULL_STUDIES = 227_835
FULL_IMAGES = 377_110
FULL_MIMICIV_PATIENTS = 364_627
HELD_OUT_SHARE = 0.04  # CXR subjects absent from MIMIC-IV
NAMED = {"tiny": 12, "small": 300, "full": FULL_SUBJECTS}
MIN_SUBJECTS = 12  # enough for every timeline case to appear


@dataclass(frozen=True)
class Scale:
    n_subjects: int
    n_studies: int
    n_images: int
    n_held_out: int
    n_background: int  # MIMIC-IV patients with no chest x-ray


def scale_for(n_subjects: int) -> Scale:
    ratio = n_subjects / FULL_SUBJECTS
    held_out = max(1, round(n_subjects * HELD_OUT_SHARE))
    return Scale(
        n_subjects=n_subjects,
        n_studies=round(FULL_STUDIES * ratio),
        n_images=round(FULL_IMAGES * ratio),
        n_held_out=held_out,
        n_background=round(FULL_MIMICIV_PATIENTS * ratio) - (n_subjects - held_out),
    )


def parse_scale(text: str) -> Scale:
    """`tiny`, `small`, `full` or a number of subjects (at least 12)."""
    if text in NAMED:
        return scale_for(NAMED[text])
    if not text.isdigit() or int(text) < MIN_SUBJECTS:
        names = ", ".join(NAMED)
        raise ValueError(f"--scale {text!r}: use {names} or a number of subjects >= {MIN_SUBJECTS}")
    return scale_for(int(text))
