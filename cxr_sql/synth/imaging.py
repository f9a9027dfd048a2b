"""The images of one study: view positions, sizes, acquisition times, coded values.

The values are those of the MIMIC-CXR-JPG metadata file and of the DICOM headers
behind it, so the two agree image by image. Synthetic images are thumbnails:
Rows and Columns are those of a real detector divided by 64, so that a full-scale
DICOM tree stays small.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

THUMBNAIL_FACTOR = 64
DETECTOR_SIZES = ((3056, 2544), (2544, 3056), (3050, 2539), (2539, 3050), (2022, 2022))
RARE_VIEWS = ("AP AXIAL", "LAO", "RAO", "SWIMMERS", "XTABLE LATERAL", "LPO", "PA LLD", "AP LLD")
VIEW_MEANINGS = {
    "PA": "postero-anterior",
    "AP": "antero-posterior",
    "LATERAL": "lateral",
    "LL": "left lateral",
}
PROCEDURES = {
    "frontal_lateral": "CHEST (PA AND LAT)",
    "portable": "CHEST (PORTABLE AP)",
}


@dataclass(frozen=True)
class Image:
    dicom_id: str
    time_ms: int  # acquisition time, ms since 1970 (shifted dates)
    view_position: str  # '' where the header has none
    view_meaning: str
    orientation_meaning: str  # Erect, Recumbent or ''
    procedure: str
    modality: str
    rows: int
    columns: int


def dicom_id(rng: random.Random) -> str:
    """40 hex digits in five dash-separated groups of eight."""
    return "-".join(f"{rng.getrandbits(32):08x}" for _ in range(5))


def _views(rng: random.Random, procedure_kind: str, n_images: int) -> list[str]:
    if procedure_kind == "portable":
        views = ["AP"] * n_images
    else:
        first = "PA" if rng.random() < 0.85 else "AP"
        lateral = "LATERAL" if rng.random() < 0.75 else "LL"
        views = [first, *([lateral] * (n_images - 1))]
    for i in range(len(views)):
        roll = rng.random()
        if roll < 0.04:
            views[i] = ""
        elif roll < 0.045:
            views[i] = rng.choice(RARE_VIEWS)
    return views


def _image_offsets_ms(rng: random.Random, n_images: int, spread_hours: bool) -> list[int]:
    """Offsets of each image from the study time: mostly equal, some seconds apart.

    With `spread_hours`, the last image comes more than an hour after the first, as
    when two acquisitions were filed under one study.
    """
    if n_images == 1:
        return [0]
    offsets = [0]
    same_time = rng.random() < 0.7 and not spread_hours
    for _ in range(n_images - 1):
        offsets.append(0 if same_time else offsets[-1] + rng.randint(4_000, 300_000))
    if spread_hours:
        offsets[-1] = offsets[-2] + rng.randint(3_700_000, 6 * 3_600_000)
    return offsets


def study_images(
    rng: random.Random, n_images: int, time_ms: int, *, spread_hours: bool = False
) -> list[Image]:
    """The images of one study taken at `time_ms`, first image first."""
    kind = "portable" if rng.random() < 0.45 else "frontal_lateral"
    views = _views(rng, kind, n_images)
    offsets = _image_offsets_ms(rng, n_images, spread_hours or rng.random() < 0.01)
    modality = "CR" if rng.random() < 0.15 else "DX"
    images = []
    for view, offset in zip(views, offsets, strict=True):
        rows, columns = rng.choice(DETECTOR_SIZES)
        if view == "AP":
            orientation = "Recumbent" if rng.random() < 0.7 else "Erect"
        else:
            orientation = "Erect" if rng.random() < 0.9 else ""
        images.append(
            Image(
                dicom_id=dicom_id(rng),
                time_ms=time_ms + offset,
                view_position=view,
                view_meaning=VIEW_MEANINGS.get(view, ""),
                orientation_meaning=orientation,
                procedure=PROCEDURES[kind],
                modality=modality,
                rows=rows // THUMBNAIL_FACTOR,
                columns=columns // THUMBNAIL_FACTOR,
            )
        )
    return images
