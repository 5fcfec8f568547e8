"""JSON Schemas of the input events, generated from the models and committed as package data in `schemas/`.

Regenerate after a model change: `python -m pipeline.events.schemas`.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from pipeline.events.models import Review, Touchpoint

# The package folder itself: regenerating writes the files that ship.
SCHEMA_DIR = Path(str(resources.files("schemas")))
MODELS = {"touchpoint": Touchpoint, "review": Review}


def json_schemas() -> dict[str, str]:
    """File name -> JSON Schema text, exactly as committed."""
    out = {}
    for name, model in MODELS.items():
        schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", **model.model_json_schema()}
        out[f"{name}.schema.json"] = json.dumps(schema, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    return out


def committed_schema(file_name: str) -> str:
    """A shipped JSON Schema's text (package data, so it works from any install)."""
    return resources.files("schemas").joinpath(file_name).read_text(encoding="utf-8")


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
