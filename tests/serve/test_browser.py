"""The web page in a real headless browser (Debian's chromium and chromium-driver): type a query,
read the rendered hits, upload an image; one screenshot is kept as a test artifact (not in git)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (the dev extra)")

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
ARTIFACTS = Path(os.environ.get("CCL_EMBED_TEST_ARTIFACTS", Path(__file__).resolve().parents[2] / "build" / "test-artifacts"))

pytestmark = pytest.mark.skipif(not (CHROMIUM and DRIVER), reason="needs Debian's chromium and chromium-driver "
                                "(apt-get install chromium chromium-driver; .ci/run installs them)")


@pytest.fixture()
def browser():
    from selenium.webdriver.chrome.service import Service as DriverService

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1200,900"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=DriverService(executable_path=DRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def _hits(driver, wait, count: int | None = None):
    from selenium.webdriver.common.by import By

    def ready(d):
        cards = d.find_elements(By.CSS_SELECTOR, "#hits .hit")
        return cards if cards and (count is None or len(cards) == count) else False

    return wait.until(ready)


def test_search_by_text_and_by_image_in_a_browser(live, browser, folder):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, 20)
    browser.get(live.url + "/")
    wait.until(lambda d: "model tiny" in d.find_element(By.ID, "model").text)
    assert not browser.find_element(By.ID, "key").is_displayed()  # no key asked of a server without one
    options = [o.text for o in browser.find_elements(By.CSS_SELECTOR, "#collection option")]
    assert options == ["t (19)"]

    box = browser.find_element(By.ID, "q")
    box.send_keys("a red square", Keys.ENTER)
    cards = _hits(browser, wait)
    want = live.service.search("a red square", limit=24)
    assert [c.get_attribute("data-id") for c in cards] == [h.id for h in want]  # the SDK's order, rendered
    first_image = next(c for c in cards if "image-hit" in c.get_attribute("class"))
    wait.until(lambda d: first_image.find_element(By.TAG_NAME, "img").get_attribute("src").startswith("blob:"))
    assert browser.execute_script("return arguments[0].naturalWidth", first_image.find_element(By.TAG_NAME, "img")) > 0
    text_card = next(c for c in cards if "text-hit" in c.get_attribute("class"))
    assert text_card.find_element(By.CLASS_NAME, "text").text

    from selenium.webdriver.support.ui import Select

    Select(browser.find_element(By.ID, "modality")).select_by_value("text")
    def kinds(d):  # read in one script: the cards are replaced while a search renders
        return d.execute_script("return [...document.querySelectorAll('#hits .hit')].map(c => c.className)")

    wait.until(lambda d: kinds(d) and all("text-hit" in k for k in kinds(d)))

    Select(browser.find_element(By.ID, "modality")).select_by_value("image")
    browser.find_element(By.ID, "file").send_keys(str(folder / "blue-circle.png"))
    wait.until(lambda d: d.find_element(By.ID, "hits").get_attribute("data-query") == "blue-circle.png")
    cards = _hits(browser, wait)
    assert cards[0].get_attribute("data-path") == "blue-circle.png"
    score = browser.find_element(By.CSS_SELECTOR, "#hits .hit .score").text
    assert float(score) == pytest.approx(1.0, abs=1e-3)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(ARTIFACTS / "serve-page.png"))

    box = browser.find_element(By.ID, "q")
    box.clear()
    browser.find_element(By.ID, "label").send_keys("no-such-label")
    box.send_keys("a red square", Keys.ENTER)
    wait.until(lambda d: "No hits" in d.find_element(By.ID, "message").text)
    assert not browser.find_elements(By.CSS_SELECTOR, "#hits .hit")


def test_errors_and_an_empty_store_are_shown(tmp_path, tiny_model, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    from ccl_embed.serve.service import Service
    from ccl_embed.store import StoreOptions
    from tests.serve.conftest import Live

    server = Live(Service(StoreOptions(store=tmp_path / "empty"), model=tiny_model, device="cpu"), tmp_path / "empty")
    try:
        wait = WebDriverWait(browser, 20)
        browser.get(server.url + "/")
        wait.until(lambda d: "The store is empty" in d.find_element(By.ID, "message").text)
        browser.find_element(By.ID, "q").send_keys("anything", Keys.ENTER)
        message = wait.until(lambda d: d.find_element(By.ID, "message") if "does not exist" in
                             d.find_element(By.ID, "message").text else False)
        assert "error" in message.get_attribute("class")
    finally:
        server.close()


def test_a_server_with_a_key_asks_for_it_once(tmp_path, tiny_model, folder, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    from ccl_embed.serve.service import Service
    from ccl_embed.store import StoreOptions
    from tests.serve.conftest import Live

    service = Service(StoreOptions(store=tmp_path / "keyed"), model=tiny_model, device="cpu", collection="t")
    service.ingest(str(folder))
    server = Live(service, tmp_path / "keyed", api_key="s3cret")
    try:
        wait = WebDriverWait(browser, 20)
        browser.get(server.url + "/")
        wait.until(lambda d: d.find_element(By.ID, "key").is_displayed())
        browser.find_element(By.ID, "apikey").send_keys("s3cret")
        browser.find_element(By.ID, "savekey").click()
        wait.until(lambda d: [o.text for o in d.find_elements(By.CSS_SELECTOR, "#collection option")] == ["t (19)"])
        assert not browser.find_element(By.ID, "key").is_displayed()
        browser.find_element(By.ID, "q").send_keys("a red square", Keys.ENTER)
        assert len(_hits(browser, wait)) == 19
    finally:
        server.close()
