"""The screenshots of docs/serve.md, made the way a user sees the page: the example corpus ingested
with the shipped model into a fresh store, served, and driven in Debian's headless Chromium.

    python scripts/serve_screenshots.py [--query "a penguin on the ice"] [--model default]

Writes ``docs/images/serve-results.png`` (a result page, its address ``/?q=QUERY``) and
``docs/images/serve-item.png`` (the item view of the first image hit). Needs the ``serve`` and
``dev`` extras and ``apt-get install chromium chromium-driver``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "examples" / "corpus"
IMAGES = ROOT / "docs" / "images"
SIZE = (1200, 1500)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--query", default="a penguin on the ice")
    parser.add_argument("--model", default="default")
    args = parser.parse_args()
    chromium, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and driver_path):
        sys.exit("needs Debian's chromium and chromium-driver: apt-get install chromium chromium-driver")
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["CCL_EMBED_CACHE"] = str(Path(tmp) / "cache")  # the server's record stays out of the user's
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service as DriverService
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.ui import WebDriverWait

        from ccl_embed.serve.server import run
        from ccl_embed.serve.service import Service
        from ccl_embed.store import StoreOptions

        service = Service(StoreOptions(store=Path(tmp) / "store"), model=args.model, device="cpu",
                          collection="examples")
        service.ingest(str(CORPUS), root="examples")
        ready, stop, where = threading.Event(), threading.Event(), []

        def on_ready(url: str) -> None:
            where.append(url)
            ready.set()

        thread = threading.Thread(target=run, args=(service,), daemon=True,
                                  kwargs={"port": 0, "stop": stop, "on_ready": on_ready})
        thread.start()
        if not ready.wait(120):
            sys.exit("the server did not start")
        options = webdriver.ChromeOptions()
        options.binary_location = chromium
        for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     f"--window-size={SIZE[0]},{SIZE[1]}", "--hide-scrollbars"):
            options.add_argument(flag)
        browser = webdriver.Chrome(service=DriverService(executable_path=driver_path), options=options)
        try:
            wait = WebDriverWait(browser, 30)
            browser.get(where[0] + "/?" + urllib.parse.urlencode({"q": args.query}))

            def thumbnails_loaded(d: webdriver.Chrome) -> bool:
                return bool(d.execute_script(
                    "const i = [...document.querySelectorAll('#images img')];"
                    "return i.length > 0 && i.every(e => e.complete && e.naturalWidth > 0)"))

            wait.until(thumbnails_loaded)
            IMAGES.mkdir(parents=True, exist_ok=True)
            browser.save_screenshot(str(IMAGES / "serve-results.png"))
            browser.find_element(By.CSS_SELECTOR, "#images .hit").click()
            wait.until(lambda d: d.execute_script(
                "const i = document.getElementById('item-image');"
                "return i.complete && i.naturalWidth > 0 && !document.getElementById('item-caption').hidden"))
            browser.save_screenshot(str(IMAGES / "serve-item.png"))
        finally:
            browser.quit()
            stop.set()
            thread.join(30)
    for name in ("serve-results.png", "serve-item.png"):
        print(f"wrote {(IMAGES / name).relative_to(ROOT)}")


if __name__ == "__main__":
    main()
