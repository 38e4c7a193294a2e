"""The tables wing's part of ``ganforge serve``: what ``GET /api/models`` says about a table model (its
columns, so the page can offer conditions), the ``/rows`` endpoint and CSV / Parquet / JSON encoding."""

import io
import json
import secrets
from typing import Any

import pandas as pd

from ganforge.core.config import SEED_MAX

TABLE_TYPES = {"csv": "text/csv; charset=utf-8", "parquet": "application/vnd.apache.parquet",
               "json": "application/json"}  # fmt: skip


def serve_info(gan: Any) -> dict[str, Any]:
    """The model's columns for the page, its capabilities and the line for a request to a wrong endpoint."""
    columns = []
    for m in gan.metadata.columns:
        col: dict[str, Any] = {"name": m.name, "kind": m.kind}
        if m.categories is not None:
            col["categories"] = [str(v) for v in m.categories[:100]]
        if m.kind == "numeric" and m.min is not None:
            col["min"], col["max"] = m.min, m.max
        columns.append(col)
    return {"usage": "makes table rows: use /rows", "capabilities": ["rows"], "columns": columns,
            "training_rows": gan.data_info.get("rows")}  # fmt: skip


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


def check_conditions(value: dict[str, Any] | None) -> dict[str, Any] | None:
    """Each condition is a value or a [low, high] pair of numbers (either end may be null)."""
    for name, want in (value or {}).items():
        pair = isinstance(want, list) and len(want) == 2
        if pair and all(v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)) for v in want):
            continue
        if not isinstance(want, (str, int, float, bool)):
            raise ValueError(
                f"condition {name!r} must be a value or a [low, high] pair of numbers (got {want!r})"
            )
    return value


def _request(cfg: Any) -> type:
    """The /rows request body with this server's limit (so /docs shows it)."""
    from typing import Annotated, Literal

    from pydantic import AfterValidator, BaseModel, ConfigDict, Field

    class RowsRequest(BaseModel):
        model_config = ConfigDict(extra="forbid", populate_by_name=True)
        n: int = Field(100, ge=1, le=cfg.max_rows, description="Number of rows")
        seed: Annotated[
            int | None, Field(ge=0, le=SEED_MAX, description="Same seed, same output; none: random")
        ] = None
        conditions: Annotated[dict[str, Any] | None, AfterValidator(check_conditions)] = Field(
            None, description='{"income": ">50K", "age": [30, 45]}: a category or value, or a range'
        )
        format: Literal["csv", "parquet", "json"] = "csv"

    return RowsRequest


def add_routes(app: Any, served: Any) -> None:
    """``POST /api/models/{name}/rows``."""
    from fastapi.responses import Response

    RowsRequest = _request(served.cfg)

    @app.post("/api/models/{name}/rows", tags=["tables"], response_class=Response)
    async def rows(name: str, req: RowsRequest) -> Response:  # type: ignore[valid-type]
        """``n`` synthetic rows as CSV, Parquet or JSON; ``conditions`` fix categories or value ranges."""
        model = served.get(name, "rows")
        seed = req.seed if req.seed is not None else secrets.randbelow(2**31)
        conditions = {k: tuple(v) if isinstance(v, list) else v for k, v in (req.conditions or {}).items()}
        df = await served.gates[name].run(
            served.executor, lambda: model.model.sample(req.n, seed=seed, conditions=conditions)
        )
        body = await served.off_loop(encode_rows, df, req.format, {"model": name, "seed": seed})
        hdrs = served.headers(model, seed, req.format, "rows")
        return Response(body, media_type=TABLE_TYPES[req.format], headers=hdrs)
