"""ocr serve: the HTTP API a client relies on, and the web page in a real browser."""
import asyncio
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.conftest import ROOT, SAMPLES

pytest.importorskip("fastapi")
pytest.importorskip("httpx")


@pytest.fixture(scope="module")
def recognizer():
    from ocr import Recognizer

    return Recognizer.load()


@pytest.fixture
def client(recognizer):
    from fastapi.testclient import TestClient

    from ocr.service.app import create_app

    with TestClient(create_app(recognizer, max_upload_bytes=200_000)) as c:
        yield c


def upload(*names: str, data: dict[str, bytes] | None = None) -> list:
    data = data or {}
    return [("files", (n, data[n] if n in data else (SAMPLES / n).read_bytes())) for n in names]


def test_read_answers_each_image_in_order_with_characters_and_steps(client):
    answer = client.post("/read", files=upload("simply.jpg", "open.jpg"))
    assert answer.status_code == 200
    first, second = answer.json()["results"]
    assert (first["file"], first["text"], second["text"]) == ("simply.jpg", "simply", "OPEN")
    assert len(first["char_confidences"]) == len(first["steps"]) == 6 and 0 < first["confidence"] <= 1
    assert all(a <= b for a, b in first["steps"])
    assert client.get("/health").json()["status"] == "ok"
    assert "/read" in client.get("/openapi.json").json()["paths"]


@pytest.mark.parametrize("content, status, phrase", [
    (b"", 400, "empty file"),
    (b"just some text\n", 415, "not an image file"),
    ((SAMPLES / "street.png").read_bytes()[:300], 400, "unreadable or truncated image"),
    (b"x" * 200_001, 413, "larger than the"),
])
def test_a_bad_upload_gets_a_4xx_naming_it_and_the_server_keeps_serving(client, content, status, phrase):
    answer = client.post("/read", files=upload("simply.jpg", "bad.png", data={"bad.png": content}))
    assert answer.status_code == status
    error = answer.json()["error"]
    assert error.startswith("bad.png: ") and phrase in error and "\n" not in error
    assert client.post("/read", files=upload("simply.jpg")).json()["results"][0]["text"] == "simply"


def test_concurrent_requests_are_read_in_shared_batches(recognizer):
    from PIL import Image

    from ocr.service.batching import RequestBatcher

    images = [Image.open(SAMPLES / "simply.jpg").convert("RGB") for _ in range(12)]

    async def twelve_clients():
        batcher = RequestBatcher(recognizer, max_batch=64, max_wait_ms=50)
        await batcher.start()
        readings = await asyncio.gather(*(batcher.read([image]) for image in images))
        await batcher.stop()
        return batcher.batches_read, readings

    batches, readings = asyncio.run(twelve_clients())
    alone = recognizer.read(images[0])[0]
    assert batches < len(images)
    assert all(r[0].text == alone.text and abs(r[0].confidence - alone.confidence) < 1e-6 for r in readings)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    """``ocr serve`` as a user starts it, on a free loopback port."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "ocr.cli", "serve", "--port", str(port)], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    for _ in range(120):
        try:
            urllib.request.urlopen(url + "/health", timeout=1)
            break
        except OSError:
            if process.poll() is not None:
                pytest.fail(f"ocr serve exited: {process.stdout.read()}")
            time.sleep(0.25)
    yield url
    process.terminate()
    process.wait(timeout=10)


def chromium() -> tuple[str, str] | None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


@pytest.mark.skipif(chromium() is None, reason="no Chromium and chromedriver installed "
                                               "(apt-get install chromium chromium-driver; .ci/run does)")
def test_the_web_page_reads_an_uploaded_sample_in_a_real_browser(server):
    pytest.importorskip("selenium")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser, driver_path = chromium()
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        driver.get(server + "/")
        driver.find_element(By.ID, "files").send_keys(str(SAMPLES / "simply.jpg"))
        reading = WebDriverWait(driver, 60).until(
            lambda d: d.find_element(By.CSS_SELECTOR, ".reading").text not in ("", "…") and
            d.find_element(By.CSS_SELECTOR, ".reading"))
        assert reading.text == "simply"
        letters = reading.find_elements(By.TAG_NAME, "span")
        assert len(letters) == 6 and all(s.get_attribute("style").startswith("background") for s in letters)
        bars = driver.find_elements(By.CSS_SELECTOR, ".strip div")
        assert [b.text for b in bars] == list("simply")
        lefts = [b.location["x"] for b in bars]
        assert lefts == sorted(lefts)  # the letters' steps run left to right under the image
    finally:
        driver.quit()
