"""The web page at `/` in headless Chromium (Debian's chromium and chromium-driver): upload the
scene, ask, watch the answer stream in with the template and timings, click a visual token and
check, on screenshots, that its patch info mining weights are drawn over the picture."""
import io
import os
import pathlib
import shutil

import pytest

from conftest import REPO, SCENE

webdriver = pytest.importorskip("selenium.webdriver")
Image = pytest.importorskip("PIL.Image")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver") or ("/usr/bin/chromedriver" if os.path.exists("/usr/bin/chromedriver") else None)
SCREENSHOTS = pathlib.Path(os.environ.get("MGM_SCREENSHOTS", REPO / ".build" / "screenshots"))


@pytest.fixture
def browser():
    if not CHROMIUM or not DRIVER:
        pytest.skip("chromium and chromium-driver are not installed (apt-get install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1200,1000"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=webdriver.ChromeService(executable_path=DRIVER), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def red_pixels(png_bytes, box=None):
    """Pixels where the mining overlay's red clearly dominates."""
    image = Image.open(io.BytesIO(png_bytes)).convert("RGB")
    if box:
        image = image.crop(box)
    data = image.tobytes()
    return sum(1 for i in range(0, len(data), 3) if data[i] > 150 and data[i] > data[i + 1] + 60 and data[i] > data[i + 2] + 60)


def test_page_answers_and_draws_mining_weights(server, browser):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    browser.get(server.url + "/")
    wait = WebDriverWait(browser, 120)
    wait.until(lambda d: d.find_element(By.ID, "model").text == "MGM-Scenes")
    browser.find_element(By.ID, "file").send_keys(str(SCENE))
    wait.until(lambda d: d.execute_script("return document.body.dataset.mining") in ("ready", "error"))
    assert browser.execute_script("return document.body.dataset.mining") == "ready", browser.find_element(By.ID, "mining-status").text
    canvas = browser.find_element(By.ID, "picture")
    before = canvas.screenshot_as_png
    (SCREENSHOTS / "page-image.png").write_bytes(before)

    question = browser.find_element(By.ID, "question")
    question.clear()
    question.send_keys("What digit is shown?")
    browser.find_element(By.ID, "ask").click()
    wait.until(lambda d: d.execute_script("return document.body.dataset.state") in ("done", "error"))
    assert browser.find_element(By.ID, "answer").text == "8"
    assert "decode" in browser.find_element(By.ID, "timings").text
    assert browser.find_element(By.ID, "template").text == "(vicuna_v1)"
    assert "USER: <image>\nWhat digit is shown? ASSISTANT:" in browser.execute_script("return document.getElementById('prompt').textContent")

    # Click the token in grid row 2, column 5 (canvas is 384 px, the grid comes from the server).
    grid = browser.execute_script("return mining.grid")
    cell = canvas.size["width"] / grid
    x, y = int((5 + 0.5) * cell - canvas.size["width"] / 2), int((2 + 0.5) * cell - canvas.size["height"] / 2)
    # Offsets count from the centre of the element's visible part: keep all of it in view.
    browser.execute_script("window.scrollTo(0, 0)")
    webdriver.ActionChains(browser).move_to_element_with_offset(canvas, x, y).click().perform()
    WebDriverWait(browser, 10).until(lambda d: d.execute_script("return document.body.dataset.miningToken") is not None)
    assert browser.execute_script("return document.body.dataset.miningToken") == str(2 * grid + 5), browser.find_element(By.ID, "mining-status").text
    after = canvas.screenshot_as_png
    (SCREENSHOTS / "page-mining.png").write_bytes(after)
    browser.save_screenshot(str(SCREENSHOTS / "page.png"))

    # The overlay is red inside the selected token's square and nowhere else.
    scale = Image.open(io.BytesIO(after)).width / canvas.size["width"]
    token_box = tuple(int(v * scale) for v in (5 * cell + 3, 2 * cell + 3, 6 * cell - 3, 3 * cell - 3))
    new_inside = red_pixels(after, token_box) - red_pixels(before, token_box)
    sub_cell = (cell * scale / browser.execute_script("return mining.block")) ** 2
    assert new_inside >= 2 * sub_cell, new_inside
    new_outside = (red_pixels(after) - red_pixels(after, token_box)) - (red_pixels(before) - red_pixels(before, token_box))
    assert new_outside <= 50, new_outside
    status = browser.find_element(By.ID, "mining-status").text
    assert status.startswith("Token (2, 5): strongest cell"), status
