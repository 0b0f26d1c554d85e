"""The job page (outbox/index.html) in a real browser: Debian's chromium, driven by Selenium through
Debian's chromedriver. Called by the Swift suite `JobPageTests` with a running jobdrop and an nginx
serving its outbox; exits non-zero with a message on the first check that fails.

    job_page.py URL OUTBOX INBOX DOWNLOADS

Checks, in order:
  1. Without JavaScript the served page lists the newest jobs of index.json (status, rows, error, link).
  2. With JavaScript: every job of index.json appears (paging with "Show more"), with its status, rows,
     error and download link; the status filter and the search narrow the rows.
  3. A link downloads the export file: its bytes have the job's meta.sha256.
  4. A request dropped into the inbox while the page is open shows up, as success, without a reload.
  5. Every request the page made went to the outbox's own server.
  6. Opened as a file, the page shows the jobs and filters them.
"""

import hashlib
import json
import os
import sys
import time
import urllib.parse
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait

URL, OUTBOX, INBOX, DOWNLOADS = sys.argv[1:5]
WAIT = 30  # seconds any awaited condition may take before the check fails


def fail(message):
    print("FAIL:", message)
    sys.exit(1)


def check(condition, message):
    if not condition:
        fail(message)


def browser(javascript=True):
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1400,1000"]:
        options.add_argument(argument)
    options.add_experimental_option("prefs", {
        "download.default_directory": DOWNLOADS,
        "download.prompt_for_download": False,
        "profile.managed_default_content_settings.javascript": 1 if javascript else 2,
    })
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": DOWNLOADS})
    return driver


def index():
    with urllib.request.urlopen(URL + "index.json") as response:
        return json.load(response)["data"]


def visible_rows(driver):
    """(status, rows, last cell, link href) of every visible row of the jobs table."""
    return driver.execute_script("""
        return Array.from(document.querySelectorAll("#jobs tr")).filter((tr) => !tr.hidden && tr.dataset.status)
          .map((tr) => { const a = tr.querySelector("a");
            return [tr.dataset.status, tr.cells[3].textContent, tr.cells[7].textContent, a ? a.getAttribute("href") : null]; });
    """)


def expected_row(job):
    rows = job["meta"].get("rows")
    last = job.get("error") or ""
    href = None
    if job["status"] == "success":
        name = job["link"]["href"].rsplit("/", 1)[1]
        href = "files/%s/%s" % (job["id"], name)
        last = urllib.parse.unquote(name)
    return [job["status"], "" if rows is None else format(rows, ","), last, href]


def wait(driver, condition, message):
    try:
        WebDriverWait(driver, WAIT, poll_frequency=0.1).until(lambda _: condition())
    except Exception:
        fail(message)


jobs = index()
check(len(jobs) > 200, "the suite should give the page more than one page of jobs (%d)" % len(jobs))

# 1. Without JavaScript.
driver = browser(javascript=False)
driver.get(URL)
rows = visible_rows(driver)
newest = [expected_row(job) for job in jobs[:500]]
check(rows == newest, "without JavaScript the page should list the newest %d jobs: %s != %s"
      % (len(newest), rows[:3], newest[:3]))
note = driver.find_element(By.ID, "more-note").text
check(("of %s jobs" % format(len(jobs), ",")) in note or len(jobs) <= 500, "the page should say it shows a part: " + note)
check(not driver.find_element(By.ID, "controls").is_displayed(), "the filters need JavaScript and should be hidden")
driver.quit()

# 2. With JavaScript: every job, page by page.
driver = browser()
driver.get(URL)
wait(driver, lambda: driver.find_element(By.ID, "summary").text.find("Updated") >= 0,
     "the page should load index.json and say when it was updated")
more = driver.find_element(By.ID, "more")
while more.is_displayed():
    count = len(visible_rows(driver))
    more.click()
    wait(driver, lambda: len(visible_rows(driver)) > count, "Show more should add rows")
jobs = index()
check(visible_rows(driver) == [expected_row(job) for job in jobs],
      "with JavaScript every job of index.json should be listed, newest first")

markup = next(job["meta"]["request"]["reference"] for job in jobs if "<img" in (job["meta"]["request"].get("reference") or ""))
check(driver.execute_script("""
    return Array.from(document.querySelectorAll("#jobs td")).some((td) => td.textContent === arguments[0])
      && document.querySelector("#jobs img, #jobs b") === null && window.injected !== true;
""", markup), "a reference's markup should show as text and never become elements")
Select(driver.find_element(By.ID, "status")).select_by_visible_text("failed")
failed = [expected_row(job) for job in jobs if job["status"] == "failed"][:200]
wait(driver, lambda: visible_rows(driver) == failed, "the status filter should show the failed jobs only")
Select(driver.find_element(By.ID, "status")).select_by_visible_text("any")
reference = "Paid"
search = driver.find_element(By.ID, "search")
search.send_keys(reference)
wanted = [expected_row(job) for job in jobs if "paid" in (job["meta"]["request"].get("reference") or "").lower()
          or "paid" in job["meta"]["request"]["file"].lower()]
check(wanted, "the suite should have dropped paid.json")
wait(driver, lambda: visible_rows(driver) == wanted, "searching %r should show its jobs only" % reference)

# 3. A download.
success = next(job for job in jobs if job["status"] == "success")
search.clear()
search.send_keys(success["meta"]["request"]["file"])
selector = 'a[href^="files/%s/"]' % success["id"]
wait(driver, lambda: driver.find_elements(By.CSS_SELECTOR, selector), "searching a file name should find its job")
link = driver.find_element(By.CSS_SELECTOR, selector)
link.click()
name = urllib.parse.unquote(success["link"]["href"].rsplit("/", 1)[1])
target = os.path.join(DOWNLOADS, name)
wait(driver, lambda: os.path.exists(target) and not os.path.exists(target + ".crdownload"),
     "clicking %s should download it" % name)
with open(target, "rb") as file:
    digest = hashlib.sha256(file.read()).hexdigest()
check(digest == success["meta"]["sha256"], "the downloaded file should have meta.sha256")

# 4. A job dropped while the page is open.
search.clear()
search.send_keys("x")  # clear() sends no input event: type and delete to show every row again
search.send_keys(Keys.BACKSPACE)
wait(driver, lambda: len(visible_rows(driver)) == 200, "an empty search should show the first page again")
request = {"data": {"type": "job", "job_type": "order_export", "reference": "dropped while watching"}}
with open(os.path.join(INBOX, ".tmp-watching"), "w") as file:
    json.dump(request, file)
os.rename(os.path.join(INBOX, ".tmp-watching"), os.path.join(INBOX, "watching.json"))


def dropped_status():
    return driver.execute_script("""
        const tr = Array.from(document.querySelectorAll("#jobs tr")).find((tr) => tr.textContent.includes("dropped while watching"));
        return tr ? tr.dataset.status : null;
    """)


wait(driver, lambda: dropped_status() == "success", "the dropped job should appear as success without a reload")
check(driver.execute_script("return performance.getEntriesByType('navigation').length") == 1,
      "the page should not have reloaded")

# 5. Nothing left the outbox's server.
origin = URL.rstrip("/")
for entry in driver.get_log("performance"):
    message = json.loads(entry["message"])["message"]
    if message["method"] == "Network.requestWillBeSent":
        requested = message["params"]["request"]["url"]
        check(requested.startswith(origin + "/"), "the page requested %s, outside the outbox" % requested)
errors = [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
check(not errors, "the page logged errors: %s" % errors)
driver.quit()

# 6. Opened as a file.
driver = browser()
driver.get("file://" + os.path.join(OUTBOX, "index.html"))
wait(driver, lambda: "Opened as a file" in driver.find_element(By.ID, "live").text,
     "opened as a file, the page should say that it cannot update")
check(visible_rows(driver) == [expected_row(job) for job in index()[:500]],
      "opened as a file, the page should list the newest jobs")
Select(driver.find_element(By.ID, "status")).select_by_visible_text("success")
check(all(row[0] == "success" for row in visible_rows(driver)) and visible_rows(driver),
      "opened as a file, the status filter should still work")
driver.quit()
print("job page: %d jobs checked" % len(index()))
