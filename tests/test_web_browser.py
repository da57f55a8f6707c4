"""The page of ``perceptron serve`` in a real browser: headless Chromium driven by Selenium.

Draws a digit with pointer actions, waits for the answer, checks it is the
model's own answer for the drawing and that the probabilities sum to one,
uploads a photo-like image, and saves a screenshot. It skips, saying why,
where Chromium, its driver or Selenium is missing (``.ci/run`` installs
Debian's ``chromium`` and ``chromium-driver``).

``PERCEPTRON_WEB_SCREENSHOT=docs/_static/web_app.png python -m pytest
tests/test_web_browser.py`` also writes the screenshot the documentation shows.
"""

import base64
import io
import os
import shutil

import numpy as np
import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")

from PIL import Image, ImageDraw  # noqa: E402
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from perceptron.preprocessing import preprocess_digit_image  # noqa: E402
from perceptron.web import create_app  # noqa: E402
from perceptron.web._quick_model import train_quick_model  # noqa: E402
from perceptron.web._serve import running  # noqa: E402

CHROMIUM = next(filter(None, map(shutil.which, ("chromium", "chromium-browser",
                                                "google-chrome"))), None)
CHROMEDRIVER = shutil.which("chromedriver")
WAIT = 60  # seconds: the longest any step may take

pytestmark = pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None,
    reason="needs Chromium and its WebDriver (Debian: apt-get install chromium "
           "chromium-driver)")


@pytest.fixture(scope="module")
def model():
    est, accuracy = train_quick_model(epochs=10, n_threads=1)
    return est, f"a quick digits CNN ({accuracy:.1%} right on held-out digits)"


@pytest.fixture(scope="module")
def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1280,860", "--force-device-scale-factor=1",
                "--disable-extensions", "--no-first-run"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = webdriver.ChromeService(executable_path=CHROMEDRIVER)
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(WAIT)
    driver.set_script_timeout(WAIT)
    try:
        yield driver
    finally:
        driver.quit()


def predictions(driver):
    return int(driver.find_element(By.TAG_NAME, "body").get_attribute("data-predictions"))


def wait_for_answer(driver, count):
    """Wait until the page has shown ``count`` answers and nothing is in flight."""
    body = driver.find_element(By.TAG_NAME, "body")
    WebDriverWait(driver, WAIT).until(
        lambda d: predictions(d) >= count and body.get_attribute("data-state") == "idle")


def shown_probabilities(driver):
    # read in one script, so that every bar comes from the same answer
    values = driver.execute_script(
        "return Array.from(document.querySelectorAll('#bars li'), li => li.dataset.probability)")
    return [float(v) for v in values]


def model_answer(est, image):
    """The model's name for ``image`` outside the browser."""
    x = preprocess_digit_image(image, size=8, box=8).reshape(1, -1)
    return str(est.classes_[np.argmax(est.predict_proba(x))])


def severe_console_messages(driver):
    return [entry["message"] for entry in driver.get_log("browser")
            if entry["level"] == "SEVERE"]


def test_draw_upload_and_screenshot(model, browser, tmp_path):
    est, description = model
    with running(create_app(est, description=description)) as base:
        browser.get(base + "/")
        WebDriverWait(browser, WAIT).until(
            lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready"))
        assert "ConvDigitClassifier" in browser.find_element(By.ID, "model-info").text
        assert len(shown_probabilities_or_empty(browser)) == 10

        # draw a "7" with the mouse: press, many small moves, release
        pad = browser.find_element(By.ID, "pad")
        side = pad.size["width"]
        actions = ActionChains(browser, duration=10)
        actions.move_to_element_with_offset(pad, int(-0.28 * side), int(-0.3 * side))
        actions.click_and_hold()
        for _ in range(12):
            actions.move_by_offset(int(0.05 * side), 0)
        for _ in range(16):
            actions.move_by_offset(int(-0.02 * side), int(0.04 * side))
        actions.release().perform()
        wait_for_answer(browser, 1)
        probabilities = shown_probabilities(browser)
        assert sum(probabilities) == pytest.approx(1.0, abs=1e-5)
        top = browser.find_element(By.ID, "top-name").text
        assert top == browser.find_element(By.CSS_SELECTOR, "#bars li.top .bar-name").text
        # the answer shown is the model's own answer for what was drawn
        url = browser.execute_script("return document.getElementById('pad').toDataURL()")
        drawn = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
        assert top == model_answer(est, drawn)
        assert len(browser.find_elements(By.CSS_SELECTOR, "#maps canvas")) > 0
        browser.save_screenshot(str(tmp_path / "drawn.png"))
        docs_copy = os.environ.get("PERCEPTRON_WEB_SCREENSHOT")
        if docs_copy:
            browser.save_screenshot(docs_copy)

        # upload a photo-like image: a dark "4" on paper lit from one side
        photo = tmp_path / "four.jpg"
        paper = np.linspace(235, 120, 400)[None, :].repeat(300, axis=0)
        img = Image.fromarray(paper.astype(np.uint8)).convert("RGB")
        pen = ImageDraw.Draw(img)
        pen.line([(230, 40), (150, 170), (260, 170)], fill=(30, 30, 40), width=16)
        pen.line([(230, 40), (230, 260)], fill=(30, 30, 40), width=16)
        img.save(photo, quality=90)
        count = predictions(browser)
        browser.find_element(By.ID, "upload").send_keys(str(photo))
        wait_for_answer(browser, count + 1)
        assert browser.find_element(By.ID, "top-name").text == model_answer(est, photo)
        assert sum(shown_probabilities(browser)) == pytest.approx(1.0, abs=1e-5)
        browser.save_screenshot(str(tmp_path / "uploaded.png"))

        # Clear empties the answer
        browser.find_element(By.ID, "clear").click()
        assert browser.find_element(By.ID, "top-name").text == "?"
        assert severe_console_messages(browser) == []
    with Image.open(tmp_path / "drawn.png") as shot:
        assert shot.size[0] >= 1000


def shown_probabilities_or_empty(driver):
    return driver.find_elements(By.CSS_SELECTOR, "#bars li")
