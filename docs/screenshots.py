"""Write docs/widget-light.png and docs/widget-dark.png: the self-hosted widget in both themes.

    python docs/screenshots.py

Serves the example app on a free local port (store in a temporary folder), opens its /widgets
page in headless Chromium (/usr/bin/chromium, or $FCE_CHROMIUM) and photographs two widgets.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

from playwright.sync_api import sync_playwright
from werkzeug.serving import make_server

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from example import create_app  # noqa: E402

CHROMIUM = os.environ.get("FCE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
MARGIN = 16


def shoot(page: Any, selector: str, path: Path) -> None:
    """Screenshot the element's image challenge with a margin of its surroundings."""
    widget = page.locator(selector)
    widget.locator(".fce-image").wait_for()
    page.wait_for_timeout(300)  # the image decodes
    box = widget.bounding_box()
    assert box is not None, selector
    page.screenshot(
        path=str(path),
        clip={
            "x": box["x"] - MARGIN,
            "y": box["y"] - MARGIN,
            "width": box["width"] + 2 * MARGIN,
            "height": box["height"] + 2 * MARGIN,
        },
    )
    print(f"wrote {path.relative_to(ROOT)}")


def ask_for_an_image(route: Any) -> None:
    """Proof of work comes first by default and shows no picture: ask for an image instead."""
    body = json.loads(route.request.post_data or "{}")
    route.continue_(post_data=json.dumps({**body, "type": "image"}))


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        app = create_app(
            {"CAPTCHA_STORE_URL": f"sqlite:///{folder}/captcha.sqlite3", "EXAMPLE_CSP": True}
        )
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_page(
                    viewport={"width": 1100, "height": 900}, device_scale_factor=2
                )
                page.route("**/api/generate", ask_for_an_image)
                page.goto(f"http://127.0.0.1:{server.server_port}/widgets")
                shoot(page, "#widget-light", ROOT / "docs" / "widget-light.png")
                shoot(page, "#widget-dark", ROOT / "docs" / "widget-dark.png")
                browser.close()
        finally:
            server.shutdown()
            server.server_close()


if __name__ == "__main__":
    main()
