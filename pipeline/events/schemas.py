"""JSON Schemas of the input events, generated from the models and committed under `schemas/`.

Regenerate after a model change: `python -m pipeline.events.schemas`.
"""

from __future__ import annotations

import json
from pathlib import Path

from pipeline.events.models import Review, Touchpoint

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas"
MODELS = {"touchpoint": Touchpoint, "review": Review}


def json_schemas() -> dict[str, str]:
    """File name -> JSON Schema text, exactly as committed."""
    out = {}
    for name, model in MODELS.items():
        schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", **model.model_json_schema()}
        out[f"{name}.schema.json"] = json.dumps(schema, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    return out


def write_schemas(folder: Path = SCHEMA_DIR) -> list[Path]:
    """Write every schema file into `folder`."""
    paths = []
    for file_name, text in json_schemas().items():
        path = folder / file_name
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


if __name__ == "__main__":
    for written in write_schemas():
        print(written)
