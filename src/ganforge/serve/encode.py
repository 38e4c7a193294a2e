"""Response bodies: images as PNG (one image or a grid), ZIP or JSON with base64 PNGs; rows as CSV,
Parquet or JSON. Every PNG carries the synthetic-content label (text chunks) next to the invisible mark
its pixels already hold."""

from __future__ import annotations

import base64
import io
import json
import zipfile
from typing import Any

import numpy as np
import pandas as pd

from ganforge.images.data import make_grid
from ganforge.images.watermark import png_bytes

IMAGE_TYPES = {"png": "image/png", "zip": "application/zip", "json": "application/json"}
TABLE_TYPES = {"csv": "text/csv; charset=utf-8", "parquet": "application/vnd.apache.parquet",
               "json": "application/json"}  # fmt: skip


def png(image: np.ndarray, model_id: str) -> bytes:
    """One (H, W, C) uint8 image as labelled PNG bytes."""
    return png_bytes(image, model_id)


def encode_images(
    images: np.ndarray, fmt: str, model_id: str, meta: dict[str, Any], nrow: int | None = None
) -> bytes:
    """``images`` (N, H, W, C) as ``fmt``: "png" (the image when N is 1, else a grid with 2-px gaps and
    ``nrow`` images a row, square by default), "zip" (one PNG per image and meta.json) or "json"
    (``meta`` plus base64 PNGs)."""
    if fmt == "png":
        return png(images[0] if len(images) == 1 else make_grid(images, nrow=nrow), model_id)
    files = [png(im, model_id) for im in images]
    if fmt == "zip":
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:  # PNG is compressed already
            for i, data in enumerate(files):
                zf.writestr(f"{i:04d}.png", data)
            zf.writestr("meta.json", json.dumps(meta, indent=2))
        return buf.getvalue()
    encoded = [base64.b64encode(data).decode("ascii") for data in files]
    return json.dumps({**meta, "images": encoded}).encode()


def encode_rows(df: pd.DataFrame, fmt: str, meta: dict[str, Any]) -> bytes:
    """Rows as "csv", "parquet" or "json" (``meta`` plus ``columns`` and ``rows`` as records)."""
    if fmt == "csv":
        return df.to_csv(index=False).encode()
    if fmt == "parquet":
        buf = io.BytesIO()
        df.to_parquet(buf, index=False)
        return buf.getvalue()
    records = df.to_json(orient="records", date_format="iso")  # NaN -> null, dates as ISO text
    head = json.dumps({**meta, "columns": list(map(str, df.columns))})
    return (head[:-1] + ', "rows": ' + records + "}").encode()
