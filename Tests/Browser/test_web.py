#!/usr/bin/env python3
"""Browser tests of `mmsim serve` in a real headless Chromium (Debian's), driven by selenium.

Usage: test_web.py PATH_TO_MMSIM SCREENSHOT_DIR
Starts the server on a free port, runs every built-in example in the page, steps, checks the
views, and saves a screenshot of each view. Prints 'N passed, N failed' and exits non-zero on failure.
"""
import json
import os
import re
import subprocess
import sys
import time
import traceback
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

MMSIM, SHOTS = sys.argv[1], sys.argv[2]
WAIT = 180  # seconds an explicit wait may take (debug builds on a shared 2-core machine)

SMALL = """machine ram=256M
spawn /bin/small as small
mmap NULL 64K rw- private,anonymous as buf
touch buf 64K write
free
"""


def start_server():
    """Starts `mmsim serve --port 0` and returns (process, base URL) once it listens."""
    os.makedirs(SHOTS, exist_ok=True)
    log = open(os.path.join(SHOTS, "server.log"), "w")
    trace = os.path.join(SHOTS, "rand.mmt")
    subprocess.run([MMSIM, "synth", "random", "--span", "64M", "--length", "200000", "--writes", "0.3", "--seed", "3", "-o", trace],
                   check=True, stdout=subprocess.DEVNULL)
    p = subprocess.Popen([MMSIM, "serve", "--port", "0", "--max-seconds", "600", "--trace", trace, "--ram", "256M"],
                         stdout=subprocess.PIPE, stderr=log, text=True)
    line = p.stdout.readline()
    if "listening on" not in line:
        p.kill()
        raise RuntimeError("server did not start: " + line + open(os.path.join(SHOTS, "server.log")).read())
    return p, line.split("listening on ")[1].strip().rstrip("/")


def make_driver():
    o = Options()
    o.binary_location = "/usr/bin/chromium"
    for a in ["--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,1800", "--disable-dev-shm-usage"]:
        o.add_argument(a)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=o)


class Page:
    def __init__(self, driver, base):
        self.d, self.base = driver, base

    def wait(self, cond, what):
        return WebDriverWait(self.d, WAIT).until(cond, message=what)

    def body_attr(self, name):
        return self.d.find_element(By.TAG_NAME, "body").get_attribute("data-" + name)

    def wait_event(self, i):
        self.wait(lambda d: self.body_attr("event") == str(i) and self.body_attr("state") == "ready", f"event {i} drawn")

    def open_example(self, name):
        self.d.get(f"{self.base}/?example={name}")
        self.wait(lambda d: self.body_attr("state") in ("ready", "error"), f"example {name} loaded")
        assert self.body_attr("state") == "ready", self.text("error")
        self.wait_event(0)

    def paste(self, text):
        self.d.get(self.base + "/")
        self.wait(EC.presence_of_element_located((By.CSS_SELECTOR, "#example-select option")), "examples listed")
        self.d.find_element(By.CSS_SELECTOR, "#paste summary").click()
        box = self.d.find_element(By.ID, "scenario-text")
        self.d.execute_script("arguments[0].value = arguments[1];", box, text)
        self.d.find_element(By.ID, "run-pasted").click()
        self.wait(lambda d: self.body_attr("state") in ("ready", "error"), "pasted scenario ran")

    def click(self, id_):
        self.d.find_element(By.ID, id_).click()

    def text(self, id_):
        return self.d.find_element(By.ID, id_).text

    def html(self, id_):
        return self.d.find_element(By.ID, id_).get_attribute("innerHTML")

    def jump(self, i):
        box = self.d.find_element(By.ID, "jump-input")
        box.clear()
        box.send_keys(str(i + 1))
        self.click("jump-go")
        self.wait_event(i)

    def shot(self, id_, name):
        os.makedirs(SHOTS, exist_ok=True)
        e = self.d.find_element(By.ID, id_)
        self.d.execute_script("arguments[0].scrollIntoView(true);", e)
        e.screenshot(os.path.join(SHOTS, name + ".png"))


def test_every_example_loads_and_steps(pg):
    examples = json.load(urllib.request.urlopen(pg.base + "/api/examples"))
    assert len(examples) >= 10, examples
    for e in examples:
        pg.open_example(e["name"])
        total = int(pg.text("event-pos").split("/ ")[1])
        assert pg.text("event-pos") == f"event 1 / {total}", pg.text("event-pos")
        first = pg.text("narration")
        assert first.startswith("line "), first
        if total > 1:
            pg.click("step-fwd")
            pg.wait_event(1)
            assert pg.text("narration") != first, f"{e['name']}: stepping did not change the narration"
            assert pg.text("event-pos") == f"event 2 / {total}"
            pg.click("step-back")
            pg.wait_event(0)
            assert pg.text("narration") == first


def test_stepping_changes_the_views_and_walk_levels(pg):
    pg.paste(SMALL)
    assert pg.body_attr("state") == "ready", pg.text("error")
    pg.wait_event(0)
    pg.jump(1)                     # after the mmap: the mapping exists, nothing resident
    phys_before = pg.html("phys-view")
    addr = int(re.search(r"= (0x[0-9a-f]+)", pg.text("narration")).group(1), 16)   # what mmap returned

    def row_of(d):
        for r in d.find_elements(By.CSS_SELECTOR, "#vma-table tr.vma-row"):
            lo, hi = (int(x, 16) for x in r.find_elements(By.TAG_NAME, "td")[0].text.split("-"))
            if lo <= addr < hi:
                return r
        return False
    row = pg.wait(row_of, "the VMA of the mapping")
    start = row.find_elements(By.TAG_NAME, "td")[0].text.split("-")[0]
    row.click()
    pg.wait(lambda d: d.find_elements(By.CSS_SELECTOR, "#walk-table tr.walk-level"), "walk drawn")
    levels = pg.d.find_elements(By.CSS_SELECTOR, "#walk-table tr.walk-level")
    assert levels[-1].get_attribute("class").split()[1] == "absent", [l.get_attribute("class") for l in levels]
    pg.click("step-fwd")           # the touch: every level present, the leaf maps a frame
    pg.wait_event(2)
    pg.wait(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#walk-table tr.walk-level.present")) == 4, "4 present levels")
    names = [l.get_attribute("data-level") for l in pg.d.find_elements(By.CSS_SELECTOR, "#walk-table tr.walk-level")]
    assert names == ["PGD", "PUD", "PMD", "PTE"], names
    pg.wait(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#walk-table tr.walk-level.hl")) == 4, "levels highlighted in turn")
    assert pg.d.find_element(By.ID, "walk-va").get_attribute("value") == start
    assert "=> 0x" in pg.text("walk-result"), pg.text("walk-result")
    assert pg.html("phys-view") != phys_before, "the physical memory view did not change"
    filled = pg.d.find_elements(By.CSS_SELECTOR, "#tlb-view tr.filled")
    assert len(filled) >= 16, len(filled)
    pg.click("step-fwd")
    pg.wait_event(3)
    assert pg.text("free-view").startswith("               total"), pg.text("free-view")
    for view in ["panel-space", "panel-walk", "panel-tlb", "panel-phys", "panel-free", "panel-time", "left"]:
        pg.shot(view, view)


SWAPPING = """machine ram=64M
file create /swap2 size 8M
swapon /swap2 priority 5
spawn /bin/sw as sw
mmap NULL 16K rw- private,anonymous as p
write p 42 u8
write p+4K 43 u8
madvise p 16K pageout
read p u8 expect 42
"""


def test_slab_lru_and_swap_panels(pg):
    pg.paste(SWAPPING)
    assert pg.body_attr("state") == "ready", pg.text("error")
    pg.wait_event(0)
    pg.jump(5)                     # both pages written, nothing swapped yet

    def cell(d, sel, col):
        rows = d.find_elements(By.CSS_SELECTOR, sel)
        return rows[0].find_elements(By.TAG_NAME, "td")[col].text if rows else False
    pg.wait(lambda d: cell(d, '#lru-table tr[data-list="inactive_anon"]', 1) == "4", "4 pages on inactive_anon")
    pg.wait(lambda d: cell(d, '#swap-table tr[data-area="/swap2"]', 3) == "0", "no swap slot used")
    pg.click("step-fwd")           # MADV_PAGEOUT: two pages to swap slots 1 and 2
    pg.wait_event(6)
    pg.wait(lambda d: cell(d, '#swap-table tr[data-area="/swap2"]', 3) == "2", "2 swap slots used")
    assert cell(pg.d, '#swap-table tr[data-area="/swap2"]', 4) == "2047"
    pg.wait(lambda d: cell(d, '#lru-table tr[data-list="inactive_anon"]', 1) == "2", "2 pages left on inactive_anon")
    used = pg.d.find_elements(By.CSS_SELECTOR, '#swap-view svg.swap-map[data-area="/swap2"] rect')
    assert len(used) == 1, len(used)   # slots 1 and 2 share the first cell (8 slots per cell)
    mm = pg.d.find_elements(By.CSS_SELECTOR, '#slab-table tr[data-cache="mm_struct"] td')
    assert [c.text for c in mm[:4]] == ["mm_struct", "10", "10", "1600"], [c.text for c in mm]
    assert pg.d.find_elements(By.CSS_SELECTOR, '#lru-svg path[data-list="f"]'), "file pages drawn in the LRU map"
    assert not pg.d.find_element(By.ID, "panel-more").is_displayed()
    for view in ["panel-slab", "panel-lru", "panel-swap"]:
        pg.shot(view, view)


def test_parse_error_shows_line_and_column(pg):
    pg.paste("spawn /bin/x\nmmap NULL 64K rw- bogus\n")
    assert pg.body_attr("state") == "error"
    err = pg.text("error")
    assert err.startswith("pasted.mmsim:2:19: error: "), err
    pg.shot("error", "parse-error")


def test_100k_events_stay_quick(pg):
    n = 100_000
    text = "machine ram=256M\nspawn /bin/big as big\nmmap NULL 4M rw- private,anonymous as buf\n" + \
        "".join(f"touch buf+{(i % 1024) * 4096} 1 write\n" for i in range(n - 2))
    t0 = time.time()
    pg.paste(text)
    assert pg.body_attr("state") == "ready", pg.text("error")
    pg.wait_event(0)
    loaded = time.time() - t0
    # Only the rows on screen are in the document.
    rows = pg.d.find_elements(By.CSS_SELECTOR, "#event-list .ev")
    assert 0 < len(rows) < 60, len(rows)
    t1 = time.time()
    pg.jump(n - 1)
    jumped = time.time() - t1
    t2 = time.time()
    for i in range(5):
        pg.click("step-back")
        pg.wait_event(n - 2 - i)
    stepped = (time.time() - t2) / 5
    assert pg.text("event-pos") == f"event {n - 5} / {n}"
    print(f"    100k events: recorded and shown in {loaded:.1f} s, jump to the end {jumped:.2f} s, "
          f"one step back {stepped:.3f} s")
    assert stepped < 2.0, stepped
    pg.shot("panel-time", "timelines-100k")


def test_trace_replay_opens_and_steps(pg):
    pg.d.get(pg.base + "/")
    pg.wait(EC.presence_of_element_located((By.CSS_SELECTOR, "#example-select option[value='trace:t1']")), "trace listed")
    opt = pg.d.find_element(By.CSS_SELECTOR, "#example-select option[value='trace:t1']")
    assert opt.text.startswith("trace: rand.mmt ("), opt.text
    opt.click()
    pg.click("run-example")
    pg.wait(lambda d: pg.body_attr("state") in ("ready", "error"), "trace opened")
    assert pg.body_attr("state") == "ready", pg.text("error")
    pg.wait_event(0)
    total = int(pg.text("event-pos").split("/ ")[1])
    assert total >= 2, total
    first, phys_first = pg.text("narration"), pg.html("phys-view")
    assert "records of rand.mmt replayed" in first, first
    pg.click("step-fwd")
    pg.wait_event(1)
    assert pg.text("narration") != first, "stepping did not change the narration"
    pg.jump(total - 1)
    last = pg.text("narration")
    assert "200005 records of rand.mmt" in last, last
    assert "27415 in all" in last and "63860 kB" in last, last
    assert pg.html("phys-view") != phys_first, "the physical memory view did not change"
    pg.shot("timelines", "trace-timelines")
    pg.shot("phys-view", "trace-phys")


def main():
    server, base = start_server()
    driver = make_driver()
    passed = failed = 0
    try:
        pg = Page(driver, base)
        for t in [test_every_example_loads_and_steps, test_stepping_changes_the_views_and_walk_levels,
                  test_slab_lru_and_swap_panels, test_parse_error_shows_line_and_column, test_100k_events_stay_quick,
                  test_trace_replay_opens_and_steps]:
            t0 = time.time()
            try:
                t(pg)
                passed += 1
                print(f"PASS {t.__name__} ({time.time() - t0:.1f} s)")
            except Exception:
                failed += 1
                print(f"FAIL {t.__name__}")
                traceback.print_exc()
                try:
                    os.makedirs(SHOTS, exist_ok=True)
                    driver.save_screenshot(os.path.join(SHOTS, "failure-" + t.__name__ + ".png"))
                except Exception:
                    pass
    finally:
        driver.quit()
        server.terminate()
        server.wait(timeout=10)
    print(f"screenshots in {SHOTS}")
    print(f"browser: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
