"""Copy the browser assets installed by npm (widget/node_modules) where the web app serves them."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODULES = ROOT / "widget" / "node_modules"
VENDOR = ROOT / "webapp" / "static" / "vendor"
FILES = {
    "@gouvfr/dsfr/dist/dsfr.min.css": "dsfr/dsfr.min.css",
    "@gouvfr/dsfr/dist/fonts": "dsfr/fonts",
    "@gouvfr/dsfr/dist/icons": "dsfr/icons",  # dsfr.min.css draws its icons from here (e.g. external links)
    "@gouvfr/dsfr/dist/favicon": "dsfr/favicon",  # the pages' icon (else browsers ask for /favicon.ico: 404)
    "socket.io-client/dist/socket.io.min.js": "socket.io.min.js",
    "axe-core/axe.min.js": "axe.min.js",
}


def main() -> int:
    for source, target in FILES.items():
        src, dst = MODULES / source, VENDOR / target
        if not src.exists():
            print(f"missing {src}: run `npm ci` in widget/", file=sys.stderr)
            return 1
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.rmtree(dst, ignore_errors=True)
            shutil.copytree(src, dst)
        else:
            shutil.copy2(src, dst)
    print(f"Browser assets copied to {VENDOR.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
