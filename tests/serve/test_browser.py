"""The web page in a real headless browser (Debian's chromium and chromium-driver): searches by text,
by an image and by a stored item; the item view; links and the back button; labels; more results;
one screenshot is kept as a test artifact (not in git; docs/serve.md's are made by
scripts/serve_screenshots.py)."""

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


def _order(driver):
    """The ids of the image cards, then of the text rows, as shown (read in one script: cards are
    replaced while a search renders)."""
    return driver.execute_script("return [[...document.querySelectorAll('#images .hit')].map(c => c.dataset.id),"
                                 " [...document.querySelectorAll('#texts .hit')].map(c => c.dataset.id)]")


def _split(hits):
    return [[h.id for h in hits if h.modality == "image"], [h.id for h in hits if h.modality == "text"]]


def test_search_by_text_and_by_image_in_a_browser(live, browser, folder):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select, WebDriverWait

    wait = WebDriverWait(browser, 20)
    browser.get(live.url + "/")
    wait.until(lambda d: "model tiny" in d.find_element(By.ID, "model").text)
    assert not browser.find_element(By.ID, "key").is_displayed()  # no key asked of a server without one
    options = [o.text for o in browser.find_elements(By.CSS_SELECTOR, "#collection option")]
    assert options == ["t (19)"]

    box = browser.find_element(By.ID, "q")
    box.send_keys("a red square", Keys.ENTER)
    _hits(browser, wait)
    want = live.service.search("a red square", limit=24)
    wait.until(lambda d: _order(d) == _split(want))  # the SDK's order, images in a grid, texts in a list
    first_image = browser.find_element(By.CSS_SELECTOR, "#images .hit img")
    wait.until(lambda d: first_image.get_attribute("src").startswith("blob:"))
    assert browser.execute_script("return arguments[0].naturalWidth", first_image) > 0
    # text hits: their own compact list, each row far lower than an image card
    row = browser.find_element(By.CSS_SELECTOR, "#texts .hit")
    card = browser.find_element(By.CSS_SELECTOR, "#images .hit")
    assert row.find_element(By.CLASS_NAME, "text").text and row.size["height"] * 2 < card.size["height"]
    assert browser.find_element(By.ID, "texts-heading").is_displayed()
    shown = [float(e.text) for e in browser.find_elements(By.CSS_SELECTOR, "#images .score")]
    assert shown == sorted(shown, reverse=True)

    Select(browser.find_element(By.ID, "modality")).select_by_value("text")
    wait.until(lambda d: _order(d)[1] and not _order(d)[0])
    assert not browser.find_element(By.ID, "texts-heading").is_displayed()  # one kind: no headings

    # by an image: the query's preview is shown and the text box is cleared
    Select(browser.find_element(By.ID, "modality")).select_by_value("image")
    browser.find_element(By.ID, "file").send_keys(str(folder / "blue-circle.png"))
    wait.until(lambda d: d.find_element(By.ID, "hits").get_attribute("data-query") == "blue-circle.png")
    cards = _hits(browser, wait)
    assert cards[0].get_attribute("data-path") == "blue-circle.png"
    assert float(cards[0].find_element(By.CLASS_NAME, "score").text) == pytest.approx(1.0, abs=1e-3)
    preview = browser.find_element(By.ID, "asked-image")
    assert preview.is_displayed() and preview.get_attribute("src").startswith("blob:")
    assert browser.execute_script("return arguments[0].naturalWidth", preview) == 48
    assert "blue-circle.png" in browser.find_element(By.ID, "asked-caption").text
    assert browser.find_element(By.ID, "q").get_attribute("value") == ""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(ARTIFACTS / "serve-page.png"))


def test_a_card_opens_its_item_and_more_like_this(live, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select, WebDriverWait

    wait = WebDriverWait(browser, 20)
    browser.get(live.url + "/?q=a+circle+in+green&modality=image")
    cards = _hits(browser, wait)
    circle = next(c for c in cards if c.get_attribute("data-path") == "labelled/circle.png")
    circle.click()
    dialog = browser.find_element(By.ID, "item")
    wait.until(lambda d: dialog.is_displayed())
    image = browser.find_element(By.ID, "item-image")
    wait.until(lambda d: browser.execute_script("return arguments[0].naturalWidth", image) == 48)  # the whole image
    assert browser.find_element(By.ID, "item-path").text == "labelled/circle.png"
    assert browser.find_element(By.ID, "item-label").text == "green"
    assert browser.find_element(By.ID, "item-root").text == live.service.search("x", limit=1)[0].payload["root"]
    wait.until(lambda d: d.find_element(By.ID, "item-caption").text == "a circle in green")  # its paired text
    browser.find_element(By.TAG_NAME, "body").send_keys(Keys.ESCAPE)
    wait.until(lambda d: not dialog.is_displayed())

    # the keyboard: Enter on a focused card opens it too
    first = _hits(browser, wait)[0]
    first_id, first_path = first.get_attribute("data-id"), first.get_attribute("data-path")
    browser.execute_script("arguments[0].focus()", first)
    browser.switch_to.active_element.send_keys(Keys.ENTER)
    wait.until(lambda d: dialog.is_displayed())
    assert browser.find_element(By.ID, "item-path").text == first_path
    browser.find_element(By.ID, "item-like").click()  # more like this
    wait.until(lambda d: f"like={first_id}" in d.current_url)
    want = live.service.search(None, like=first_id, limit=24, modality="image")
    wait.until(lambda d: _order(d) == _split(want))
    assert first_id not in _order(browser)[0]  # the item itself is left out
    assert browser.find_element(By.ID, "asked-caption").text == "More like " + first_path
    assert Select(browser.find_element(By.ID, "modality")).first_selected_option.get_attribute("value") == "image"


def test_a_search_is_a_link_and_the_back_button_returns(live, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, 20)
    green = _split(live.service.search("a red square", limit=24, where={"label": "green"}))
    browser.get(live.url + "/?q=a+red+square&label=green")  # a link runs its search
    wait.until(lambda d: _order(d) == green)
    assert browser.find_element(By.ID, "q").get_attribute("value") == "a red square"
    assert browser.find_element(By.ID, "label").get_attribute("value") == "green"

    browser.get(live.url + "/")
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#label option")) > 1)
    box = browser.find_element(By.ID, "q")
    box.send_keys("a red square", Keys.ENTER)
    wait.until(lambda d: d.current_url.endswith("/?q=a+red+square&collection=t"))
    box.clear()
    box.send_keys("a yellow dot", Keys.ENTER)
    wait.until(lambda d: d.current_url.endswith("/?q=a+yellow+dot&collection=t"))
    wait.until(lambda d: _order(d) == _split(live.service.search("a yellow dot", limit=24)))
    browser.back()
    wait.until(lambda d: d.find_element(By.ID, "q").get_attribute("value") == "a red square")
    wait.until(lambda d: _order(d) == _split(live.service.search("a red square", limit=24)))
    browser.back()
    wait.until(lambda d: d.find_element(By.ID, "q").get_attribute("value") == "" and _order(d) == [[], []])
    browser.forward()
    wait.until(lambda d: _order(d) == _split(live.service.search("a red square", limit=24)))


def test_labels_are_offered_and_no_hits_say_what_was_searched(tmp_path, tiny_model, folder, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select, WebDriverWait

    from ccl_embed.serve.service import Service
    from ccl_embed.store import StoreOptions
    from tests.serve.conftest import Live

    service = Service(StoreOptions(store=tmp_path / "two"), model=tiny_model, device="cpu", collection="t")
    service.ingest(str(folder))
    service.ingest(str(folder / "labelled"), collection="empty")
    service.index("empty").forget(folder / "labelled")  # a collection that exists and holds nothing
    server = Live(service, tmp_path / "two")
    try:
        wait = WebDriverWait(browser, 20)
        browser.get(server.url + "/")
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#label option")) > 1)
        labels = [o.text for o in browser.find_elements(By.CSS_SELECTOR, "#label option")]
        assert labels == ["any"] + [f"{k} ({v})" for k, v in service.labels("t").items()] and len(labels) == 4
        Select(browser.find_element(By.ID, "label")).select_by_value("yellow")
        browser.find_element(By.ID, "q").send_keys("a square", Keys.ENTER)
        wait.until(lambda d: _order(d) == _split(service.search("a square", limit=24, where={"label": "yellow"})))
        assert "label=yellow" in browser.current_url

        Select(browser.find_element(By.ID, "collection")).select_by_value("empty")
        message = wait.until(lambda d: d.find_element(By.ID, "message").text.startswith("No hits")
                             and d.find_element(By.ID, "message").text)
        assert message == "No hits for \u201ca square\u201d in collection empty."  # the label list is the new collection's
        assert [o.text for o in browser.find_elements(By.CSS_SELECTOR, "#label option")] == ["any"]
    finally:
        server.close()


def test_more_results_come_by_offset(tmp_path, tiny_model, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    from ccl_embed.serve.service import Service
    from ccl_embed.store import StoreOptions
    from tests.conftest import COLOURS, SHAPES, draw
    from tests.serve.conftest import Live

    many = tmp_path / "many"
    many.mkdir()
    for colour in COLOURS:
        for shape in SHAPES:
            for size in (40, 56):
                draw(colour, shape, size).save(many / f"{colour}-{shape}-{size}.png")
    draw("red", "ring", 64).save(many / "red-ring-64.png")  # 49: two full pages and one more
    service = Service(StoreOptions(store=tmp_path / "m"), model=tiny_model, device="cpu", collection="m")
    total = service.ingest(str(many))["added"]
    assert total == 49
    server = Live(service, tmp_path / "m")
    try:
        wait = WebDriverWait(browser, 20)
        browser.get(server.url + "/")
        browser.find_element(By.ID, "q").send_keys("a red ring", Keys.ENTER)
        wait.until(lambda d: len(_order(d)[0]) == 24)
        more = browser.find_element(By.ID, "more")
        for shown in (48, total):
            assert more.is_displayed()
            more.click()
            wait.until(lambda d: len(_order(d)[0]) == shown)
        assert _order(browser)[0] == [h.id for h in service.search("a red ring", limit=total)]
        assert not more.is_displayed()
    finally:
        server.close()


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
