"""A real headless Chromium (Debian's chromium and chromedriver) for the report's tests and
benchmark: flags that keep it off the network, a fresh profile each time."""

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--window-size=1400,1800",
)  # fmt: skip

CHART_STATE = """
return Array.from(document.querySelectorAll('.plotly-graph-div')).map(gd => ({
  id: gd.id,
  traces: (gd.data || []).length,
  points: (gd.data || []).reduce((n, t) => n + ((t.x || t.y || []).length), 0),
  drawn: gd.querySelectorAll('.main-svg').length,
  marks: gd.querySelectorAll('.trace, .point, path.js-line').length,
}));
"""


@contextmanager
def chromium() -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        options.add_argument(f"--user-data-dir={profile}")
        driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
        try:
            yield driver
        finally:
            driver.quit()


def open_report(driver: webdriver.Chrome, path: Path) -> None:
    """Open the file and wait until every chart has been drawn."""
    driver.get(path.resolve().as_uri())
    driver.set_script_timeout(30)
    driver.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        const ready = () => Array.from(document.querySelectorAll('.plotly-graph-div'))
            .every(gd => gd._fullLayout && gd.querySelector('.main-svg'));
        const poll = () => ready() ? done(true) : setTimeout(poll, 20);
        poll();
        """
    )
