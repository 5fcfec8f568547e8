"""A CJK font embedded in the page, cut down to the characters the page uses (offline, small)."""

from __future__ import annotations

import base64
import io
import logging
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path

log = logging.getLogger("cx.page")
FAMILY = "CX CJK"


# Where Debian's CJK font packages put their files, for machines without fontconfig's fc-list.
_KNOWN = ("wqy", "notosanscjk", "notoserifcjk", "droidsansfallback", "sourcehansans", "arphic")


@lru_cache(maxsize=1)
def find_cjk_font() -> Path | None:
    """The CJK font the page and its charts use: Noto Sans SC from the `pylopdf-fonts-zh-cn` package
    (a dependency, SIL OFL 1.1), else one on this machine (fontconfig's list, else known names)."""
    try:
        from pylopdf_fonts_zh_cn import sans_path

        if sans_path().is_file():
            return sans_path()
    except ImportError:
        pass
    if shutil.which("fc-list") is not None:
        listed = subprocess.run(["fc-list", ":lang=zh", "file"], capture_output=True, text=True, timeout=10).stdout
        files = sorted({line.split(":")[0].strip() for line in listed.splitlines() if line.strip()})
    else:
        found = [p for p in Path("/usr/share/fonts").rglob("*") if p.suffix.lower() in (".ttc", ".ttf", ".otf")]
        files = sorted(str(p) for p in found if any(k in p.name.lower().replace("-", "") for k in _KNOWN))
    # Prefer sans-serif families; any will do.
    files.sort(key=lambda f: (not any(k in f.lower() for k in ("sans", "hei", "microhei")), f))
    return Path(files[0]) if files else None


def font_face(text: str, font: Path | None) -> str:
    """A CSS @font-face with `font` subset to the characters of `text`, as a data URL; '' without a font."""
    if font is None:
        log.warning("no CJK font found (fc-list :lang=zh): the page's Chinese uses the viewer's fonts")
        return ""
    from fontTools import subset
    from fontTools.ttLib import TTCollection, TTFont

    try:
        loaded = TTCollection(str(font)).fonts[0] if font.suffix.lower() == ".ttc" else TTFont(str(font))
    except Exception as exc:  # a broken font file must not take the page down
        log.warning("cannot read font %s: %s", font, exc)
        return ""
    options = subset.Options()
    options.layout_features = ["*"]
    subsetter = subset.Subsetter(options)
    subsetter.populate(text="".join(sorted(set(text))))
    subsetter.subset(loaded)
    buffer = io.BytesIO()
    loaded.save(buffer)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    kind, form = ("otf", "opentype") if "CFF " in loaded else ("ttf", "truetype")
    return f"@font-face {{ font-family: '{FAMILY}'; src: url(data:font/{kind};base64,{data}) format('{form}'); }}"
