#!/usr/bin/env python3
"""The web console (/ui/) driven in a real browser: Debian's chromium through chromium-driver.

    python3 scripts/console_test.py --bin .build/debug/appliance [--shots DIR]

Against the real binary on loopback with a fresh data dir: log in (a wrong token refused, then
the token typed and Enter pressed); create a volume; upload a file through the page (the page's
script streams it, with a progress bar) and see it listed; download it and compare bytes; make a
share link and fetch it with curl; delete the object; a key named `<img src=x onerror=alert(1)>`
shows as text and runs nothing; set a device to drain and watch its progress to the end; create an
access key (its secret shown once, never again) and log in with it: the console then allows what
its permissions allow and no more; a form posted without its CSRF token, and an upload without
it, are refused and change nothing; the pages carry a Content-Security-Policy and no inline
script or style; at 360 px wide no page scrolls sideways; log out ends the session. Every page's
screenshot is saved (default .build/console-screenshots).
"""
from __future__ import annotations

import argparse
import hashlib
import http.cookiejar
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import s3_clients_test as base  # noqa: E402

from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import NoAlertPresentException, TimeoutException, WebDriverException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

from s3_clients_test import Failure, begin, expect, ok  # noqa: E402

MiB = 1024 * 1024
HOSTILE = "<img src=x onerror=alert(1)>"


class T:
    server: base.Server
    driver: webdriver.Chrome
    shots = ""
    tmp = ""
    shot_count = 0


def browser() -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1280,900",
                "--disable-background-networking", "--no-first-run", "--password-store=basic"):
        options.add_argument(arg)
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    service = Service(executable_path=shutil.which("chromedriver") or "/usr/bin/chromedriver")
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(30)
    return driver


def url(path: str) -> str:
    return T.server.url + path


def go(path: str) -> None:
    T.driver.get(url(path))


def wait_for(condition, what: str, timeout: float = 15):
    try:
        # A page that is replaced while a condition reads it leaves stale elements (or, in
        # chromedriver, "Node with given id does not belong to the document"): read again. A real
        # error still ends the wait, as a timeout naming what was awaited.
        return WebDriverWait(T.driver, timeout, ignored_exceptions=(WebDriverException,)).until(condition)
    except TimeoutException:
        raise Failure(f"timed out waiting for {what} (at {T.driver.current_url})") from None


def shot(name: str) -> None:
    T.shot_count += 1
    path = os.path.join(T.shots, f"{T.shot_count:02d}-{name}.png")
    T.driver.save_screenshot(path)


def text() -> str:
    return T.driver.find_element(By.TAG_NAME, "body").text


def no_alert(what: str) -> None:
    try:
        alert = T.driver.switch_to.alert
        message = alert.text
        alert.dismiss()
        raise Failure(f"{what}: a script ran and opened an alert ({message!r})")
    except NoAlertPresentException:
        pass


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # noqa: ANN002, ANN003
        return None


def bare_opener() -> urllib.request.OpenerDirector:
    """An HTTP client without the browser's cookies, that shows redirects instead of following them."""
    return urllib.request.build_opener(NoRedirect)


def session_opener() -> urllib.request.OpenerDirector:
    """An HTTP client holding the browser's cookies (for downloads and hand-made requests)."""
    jar = http.cookiejar.CookieJar()
    for c in T.driver.get_cookies():
        jar.set_cookie(http.cookiejar.Cookie(0, c["name"], c["value"], None, False, "127.0.0.1", False, False, c.get("path", "/"),
                                             True, False, None, False, None, None, {}))
    return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect)


def fetch(opener, method: str, path: str, body: bytes | None = None, headers: dict | None = None) -> tuple[int, dict, bytes]:
    req = urllib.request.Request(url(path), data=body, method=method, headers=headers or {})
    try:
        with opener.open(req, timeout=30) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def inline_markup(page: str) -> list[str]:
    """What the CSP would have to allow: script elements without src, style elements, on* and style attributes."""
    import html.parser

    found: list[str] = []

    class Parser(html.parser.HTMLParser):
        def handle_starttag(self, tag, attrs):  # noqa: ANN001
            names = {name for name, _ in attrs}
            if tag == "script" and "src" not in names or tag == "style":
                found.append(f"<{tag}>")
            found.extend(f"<{tag} {name}=...>" for name in names if name.startswith("on") or name == "style")

    Parser().feed(page)
    return found


def csrf_on_page() -> str:
    return T.driver.find_element(By.CSS_SELECTOR, "input[name=csrf]").get_attribute("value")


def login_with_token(token: str) -> None:
    go("/ui/login")
    field = T.driver.find_element(By.NAME, "token")
    field.clear()
    field.send_keys(token + Keys.ENTER)  # the keyboard only


def upload(path: str, key: str | None) -> None:
    form = T.driver.find_element(By.ID, "upload")
    form.find_element(By.NAME, "file").send_keys(path)
    if key is not None:
        field = form.find_element(By.NAME, "key")
        field.clear()
        field.send_keys(key)
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()


# ---------------------------------------------------------------------------------------------

def check_login() -> None:
    begin("1. log in")
    go("/ui/")
    wait_for(EC.url_contains("/ui/login"), "the redirect to the login page")
    ok("/ui/ without a session goes to the login page")
    shot("login")
    login_with_token("not-the-token-at-all")
    wait_for(lambda d: "Wrong token" in text(), "the wrong-token message")
    ok("a wrong token is refused with a message")
    login_with_token(T.server.token)
    wait_for(lambda d: d.find_elements(By.CSS_SELECTOR, "h1") and d.find_element(By.CSS_SELECTOR, "h1").text == "Overview", "the overview")
    ok("the token typed and Enter pressed logs in (keyboard only)")
    cookie = next(c for c in T.driver.get_cookies() if c["name"] == "appliance_session")
    expect(cookie.get("httpOnly") and cookie.get("sameSite") == "Strict" and cookie.get("path") == "/ui/",
           "the session cookie is HttpOnly, SameSite=Strict, Path=/ui/", str(cookie))
    body = text()
    expect("Pool capacity" in body and "Devices" in body and "Catalog copies" in body and "Scrub" in body,
           "the overview shows capacity, devices, catalog copies and scrub")
    expect(len(T.driver.find_elements(By.CSS_SELECTOR, "svg.bar rect")) == 3, "the capacity bar has used, reserved and free")
    shot("overview")


def check_volumes() -> None:
    begin("2. volumes")
    go("/ui/volumes")
    form = T.driver.find_element(By.CSS_SELECTOR, "form[action='/ui/volumes']")
    form.find_element(By.NAME, "name").send_keys("photos")
    capacity = form.find_element(By.NAME, "capacity_bytes")
    capacity.clear()
    capacity.send_keys(str(256 * MiB))
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_for(lambda d: "Volume photos created" in text(), "the created message")
    expect(T.driver.find_elements(By.LINK_TEXT, "photos"), "volume photos is listed after the form")
    form = T.driver.find_element(By.CSS_SELECTOR, "form[action='/ui/volumes']")
    form.find_element(By.NAME, "name").send_keys("photos")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_for(lambda d: d.find_elements(By.CSS_SELECTOR, ".flash.error"), "the refusal of a second photos")
    ok(f"creating photos again is refused with the API's words: {T.driver.find_element(By.CSS_SELECTOR, '.flash.error').text!r}")
    status, _, _ = T.server.request("GET", "/v1/volumes/photos")
    expect(status == 200, "the volume exists through the API too")
    headers = [h for h in ("Reserved", "Dirty", "Cached", "Used") if h in text()]
    expect(len(headers) == 4, "the volumes table shows used, reserved, dirty and cached figures")
    shot("volumes")


def check_paging_resize_delete() -> None:
    begin("2b. paging, resize, delete a volume")
    import json
    status, _, _ = T.server.request("POST", "/v1/volumes", json.dumps({"name": "scratch", "capacity_bytes": 64 * MiB}).encode())
    expect(status == 201, "volume scratch made through the API")
    for i in range(130):
        T.server.request("PUT", f"/v1/volumes/scratch/objects/many/k{i:03d}", b"x" * (i + 1))
    go("/ui/volumes/scratch/objects?prefix=many%2F")
    keys = [e.text for e in T.driver.find_elements(By.CSS_SELECTOR, "td.key")]
    expect(len(keys) == 100 and keys[0] == "k000" and keys[-1] == "k099", "the first page lists 100 keys in order", f"{len(keys)}: {keys[:2]}..")
    T.driver.find_element(By.LINK_TEXT, "Next page").click()
    keys = [e.text for e in T.driver.find_elements(By.CSS_SELECTOR, "td.key")]
    expect(len(keys) == 30 and keys[0] == "k100" and not T.driver.find_elements(By.LINK_TEXT, "Next page"),
           "the next page lists the other 30 and no further page", f"{len(keys)}")
    go("/ui/volumes")
    row = T.driver.find_element(By.XPATH, "//tr[td/a[text()='scratch']]")
    field = row.find_element(By.NAME, "capacity_bytes")
    field.clear()
    field.send_keys(str(128 * MiB))
    row.find_element(By.XPATH, ".//button[text()='Resize']").click()
    wait_for(lambda d: "Volume scratch resized" in text(), "the resized message")
    _, _, body = T.server.request("GET", "/v1/volumes/scratch")
    expect(json.loads(body)["capacity_bytes"] == 128 * MiB, "the volume's capacity is 128 MiB through the API")
    row = T.driver.find_element(By.XPATH, "//tr[td/a[text()='scratch']]")
    field = row.find_element(By.NAME, "capacity_bytes")
    field.clear()
    field.send_keys("10")
    row.find_element(By.XPATH, ".//button[text()='Resize']").click()
    wait_for(lambda d: d.find_elements(By.CSS_SELECTOR, ".flash.error"), "the refusal of a capacity below what is used")
    ok(f"a capacity below the volume's use is refused with the API's words: {T.driver.find_element(By.CSS_SELECTOR, '.flash.error').text!r}")
    row = T.driver.find_element(By.XPATH, "//tr[td/a[text()='scratch']]")
    row.find_element(By.XPATH, ".//button[text()='Delete']").click()
    wait_for(EC.alert_is_present(), "the confirm dialog")
    T.driver.switch_to.alert.dismiss()
    expect(T.server.request("GET", "/v1/volumes/scratch")[0] == 200, "dismissing the confirm dialog deletes nothing")
    row = T.driver.find_element(By.XPATH, "//tr[td/a[text()='scratch']]")
    row.find_element(By.XPATH, ".//button[text()='Delete']").click()
    wait_for(EC.alert_is_present(), "the confirm dialog")
    T.driver.switch_to.alert.accept()
    wait_for(lambda d: "Volume scratch deleted" in text(), "the deleted message")
    expect(T.server.request("GET", "/v1/volumes/scratch")[0] == 404, "volume scratch and its 130 objects are gone")


def check_objects() -> bytes:
    begin("3. upload, download, share, delete")
    go("/ui/volumes/photos/objects")
    data = os.urandom(3 * MiB + 123)
    path = os.path.join(T.tmp, "holiday.bin")
    with open(path, "wb") as f:
        f.write(data)
    upload(path, None)
    wait_for(lambda d: any(e.text == "holiday.bin" for e in d.find_elements(By.CSS_SELECTOR, "td.key")), "holiday.bin in the listing", 60)
    ok("a 3 MiB file uploaded through the page is listed")
    status, _, stored = T.server.request("GET", "/v1/volumes/photos/objects/holiday.bin")
    base.same_bytes("... and the API serves the same bytes", data, stored)
    shot("objects")
    link = T.driver.find_element(By.XPATH, "//tr[td[@class='key' and text()='holiday.bin']]//a[text()='Download']").get_attribute("href")
    opener = session_opener()
    status, headers, got = fetch(opener, "GET", urllib.parse.urlsplit(link).path)
    expect(status == 200 and "attachment" in headers.get("Content-Disposition", ""), "the download link answers as an attachment",
           f"{status} {headers.get('Content-Disposition')}")
    base.same_bytes("the downloaded bytes are the uploaded ones", data, got)
    status, _, page = fetch(session_opener(), "GET", "/ui/volumes/no-such-volume/objects")
    expect(status == 404 and b"no-such-volume" in page, "a volume that does not exist is a 404 page, in the API's words",
           f"{status} {page[:200]!r}")
    status, _, _ = fetch(bare_opener(), "GET", urllib.parse.urlsplit(link).path)
    expect(status == 303, "without the session the download link sends to the login page, no bytes", str(status))

    # Folders by prefix.
    docs = os.path.join(T.tmp, "readme.txt")
    with open(docs, "wb") as f:
        f.write(b"read me\n")
    upload(docs, "docs/2026/readme.txt")
    wait_for(lambda d: d.find_elements(By.LINK_TEXT, "docs/"), "the docs/ folder", 60)
    T.driver.find_element(By.LINK_TEXT, "docs/").click()
    wait_for(lambda d: d.find_elements(By.LINK_TEXT, "2026/"), "the 2026/ folder")
    T.driver.find_element(By.LINK_TEXT, "2026/").click()
    wait_for(lambda d: any(e.text == "readme.txt" for e in d.find_elements(By.CSS_SELECTOR, "td.key")), "readme.txt under docs/2026/")
    ok("keys with slashes show as folders, and the folders open")
    shot("folder")

    # A share link, fetched by someone without a session.
    go("/ui/volumes/photos/objects")
    row = T.driver.find_element(By.XPATH, "//tr[td[@class='key' and text()='holiday.bin']]")
    Select(row.find_element(By.NAME, "expires")).select_by_value("3600")
    row.find_element(By.XPATH, ".//button[text()='Share link']").click()
    field = wait_for(lambda d: d.find_elements(By.CSS_SELECTOR, "input.link"), "the share link")[0]
    share = field.get_attribute("value")
    expect("X-Amz-Signature=" in share and "X-Amz-Expires=3600" in share, "the share link is a presigned S3 URL valid for an hour", share)
    shot("share")
    res = subprocess.run(["curl", "-sS", "-f", share], capture_output=True, timeout=30)
    base.same_bytes("curl fetches the share link: the same bytes", data, res.stdout)
    tampered = share.replace("holiday.bin", "docs/2026/readme.txt")
    res = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", tampered], capture_output=True, timeout=30)
    expect(res.stdout == b"403", "the link pointed at another key is refused (403)", res.stdout.decode())

    # Delete, through the page's form and its confirm dialog.
    go("/ui/volumes/photos/objects")
    row = T.driver.find_element(By.XPATH, "//tr[td[@class='key' and text()='holiday.bin']]")
    row.find_element(By.XPATH, ".//button[text()='Delete']").click()
    wait_for(EC.alert_is_present(), "the confirm dialog")
    T.driver.switch_to.alert.accept()
    wait_for(lambda d: "Deleted holiday.bin" in text(), "the deleted message")
    status, _, _ = T.server.request("GET", "/v1/volumes/photos/objects/holiday.bin")
    expect(status == 404, "the object is gone (404 through the API)")
    return data


def check_escaping() -> None:
    begin("4. names are text, scripts do not run")
    go("/ui/volumes/photos/objects")
    path = os.path.join(T.tmp, "hostile.txt")
    with open(path, "wb") as f:
        f.write(b"x")
    upload(path, HOSTILE)
    wait_for(lambda d: any(e.text == HOSTILE for e in d.find_elements(By.CSS_SELECTOR, "td.key")), "the hostile key shown as text", 60)
    no_alert("the listing of a key named like an img tag")
    expect(not T.driver.find_elements(By.CSS_SELECTOR, "td.key img"), f"the key {HOSTILE} shows as text: no img element made")
    expect("&lt;img src=x onerror=alert(1)&gt;" in T.driver.page_source, "the page source has it escaped")
    shot("escaped-key")
    status, headers, body = fetch(session_opener(), "GET", "/ui/volumes/photos/objects")
    csp = headers.get("Content-Security-Policy", "")
    expect("script-src 'self'" in csp and "unsafe-inline" not in csp and "default-src 'none'" in csp,
           "pages carry a Content-Security-Policy without inline script", csp)
    found = inline_markup(body.decode())
    expect(not found, "no inline script, style element, event handler or style attribute in the page (parsed as HTML)", str(found[:3]))
    expect(headers.get("X-Frame-Options") == "DENY" and headers.get("X-Content-Type-Options") == "nosniff",
           "X-Frame-Options DENY and nosniff")


def check_csrf() -> None:
    begin("5. CSRF tokens")
    opener = session_opener()
    before = T.server.request("GET", "/v1/volumes")[2]
    status, _, _ = fetch(opener, "POST", "/ui/volumes", b"name=sneaky&capacity_bytes=1048576&replicas=1&provisioning=thin",
                         {"Content-Type": "application/x-www-form-urlencoded"})
    expect(status == 403, "a volume form posted without its CSRF token is refused (403)", str(status))
    status, _, _ = fetch(opener, "POST", "/ui/volumes", b"csrf=0123&name=sneaky&capacity_bytes=1048576&replicas=1&provisioning=thin",
                         {"Content-Type": "application/x-www-form-urlencoded"})
    expect(status == 403, "... and with a wrong one", str(status))
    expect(T.server.request("GET", "/v1/volumes/sneaky")[0] == 404 and T.server.request("GET", "/v1/volumes")[2] == before,
           "... and nothing was created")
    status, _, _ = fetch(opener, "PUT", "/ui/volumes/photos/upload/sneaky.bin", b"data", {"Content-Type": "application/octet-stream"})
    expect(status == 403 and T.server.request("GET", "/v1/volumes/photos/objects/sneaky.bin")[0] == 404,
           "an upload without X-CSRF-Token is refused and stores nothing", str(status))
    status, _, _ = fetch(bare_opener(), "POST", "/ui/volumes", b"x" * 100, {"Content-Type": "application/x-www-form-urlencoded"})
    expect(status == 401, "a form body without a session is refused from its head (401)", str(status))


def check_devices() -> None:
    begin("6. devices: add, drain and watch, remove")
    for i in range(12):
        T.server.request("PUT", f"/v1/volumes/photos/objects/fill/{i}", os.urandom(512 * 1024))
    extra = os.path.join(T.tmp, "extra.img")
    with open(extra, "wb") as f:
        f.truncate(256 * MiB)
    go("/ui/devices")
    form = T.driver.find_element(By.CSS_SELECTOR, "form[action='/ui/devices']")
    form.find_element(By.NAME, "path").send_keys(extra)
    form.find_element(By.NAME, "label").send_keys("extra")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_for(lambda d: "Device added" in text(), "the device added message")
    ok("a device added through the form")
    devices = T.server.request("GET", "/v1/devices")
    import json
    listed = json.loads(devices[2])["devices"]
    target = max((d for d in listed if d.get("label") != "extra"), key=lambda d: d["used_bytes"])
    expect(target["used_bytes"] > 0, f"device {target['label'] or target['id']} holds data to drain ({target['used_bytes']} bytes)")
    go("/ui/devices")
    row = T.driver.find_element(By.XPATH, f"//tr[td/small[text()='{target['id']}']]")
    Select(row.find_element(By.NAME, "state")).select_by_value("draining")
    row.find_element(By.XPATH, ".//button[text()='Set']").click()
    wait_for(lambda d: "Device set to draining" in text(), "the draining message")
    expect(T.driver.find_element(By.TAG_NAME, "body").get_attribute("data-refresh"), "the devices page refreshes itself while a drain runs")
    shot("draining")

    def drained(d) -> bool:  # the page reloads itself; read what it shows
        rows = d.find_elements(By.XPATH, f"//tr[td/small[text()='{target['id']}']]")
        return bool(rows) and "0 B to go" in rows[0].text and "100" == rows[0].find_element(By.TAG_NAME, "progress").get_attribute("value")
    wait_for(drained, "the drain to reach 0 B to go on the self-refreshing page", 120)
    ok("the drain's progress is shown and reaches 100 % (0 B to go) on the page")
    shot("drained")
    row = T.driver.find_element(By.XPATH, f"//tr[td/small[text()='{target['id']}']]")
    row.find_element(By.XPATH, ".//button[text()='Remove']").click()
    wait_for(EC.alert_is_present(), "the confirm dialog")
    T.driver.switch_to.alert.accept()
    wait_for(lambda d: "Device removed" in text() or d.find_elements(By.CSS_SELECTOR, ".flash.error"), "the remove answer")
    expect("Device removed" in text(), "the drained device is removed", text()[:300])
    for i in range(12):
        status, _, got = T.server.request("GET", f"/v1/volumes/photos/objects/fill/{i}")
        if status != 200 or len(got) != 512 * 1024:
            raise Failure(f"fill/{i} after the drain and removal: {status}, {len(got)} bytes")
    ok("every object reads back after the drain and removal")


def check_keys() -> None:
    begin("7. access keys, and a key's own session")
    go("/ui/keys")
    form = T.driver.find_element(By.CSS_SELECTOR, "form[action='/ui/keys']")
    form.find_element(By.NAME, "name").send_keys("viewer")
    Select(form.find_element(By.NAME, "perm:photos")).select_by_value("read")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    secret_el = wait_for(lambda d: d.find_elements(By.CSS_SELECTOR, "code.created-secret"), "the new key's secret")[0]
    key_id = T.driver.find_element(By.CSS_SELECTOR, "code.created-id").text
    secret = secret_el.text
    expect(len(secret) >= 20 and key_id, f"access key {key_id} created, its secret shown")
    shot("key-created")
    go("/ui/keys")
    expect(secret not in T.driver.page_source and key_id in T.driver.page_source, "the keys page lists the key and never shows the secret again")
    status, _, body = T.server.request("GET", f"/v1/access-keys/{key_id}")
    expect(status == 200 and b'"photos":"read"' in body, "the key has read on photos through the API", body[:200].decode())
    T.driver.find_element(By.CSS_SELECTOR, "form.logout button").click()
    wait_for(EC.url_contains("/ui/login"), "the login page after logging out")
    old = session_opener()
    ok("log out goes back to the login page")

    go("/ui/login")
    T.driver.find_element(By.NAME, "access_key").send_keys(key_id)
    T.driver.find_element(By.NAME, "secret").send_keys(secret + Keys.ENTER)
    wait_for(lambda d: d.find_elements(By.CSS_SELECTOR, "h1") and d.find_element(By.CSS_SELECTOR, "h1").text == "Overview", "the key's overview")
    nav = [a.text for a in T.driver.find_elements(By.CSS_SELECTOR, "nav a")]
    expect("Devices" not in nav and "Access keys" not in nav and "Activity" not in nav,
           "a key's session has no devices, keys or activity pages in its menu", str(nav))
    expect("Pool capacity" not in text() and "Catalog copies" not in text() and key_id in text(),
           "a key's overview shows its access, not the pool, its devices or catalog copies (S3 shows a key none of them)")
    go("/ui/activity")
    expect("for the administrator" in text(), "... and /ui/activity is for the administrator")
    go("/ui/devices")
    expect("for the administrator" in text(), "... and /ui/devices answers that it is for the administrator")
    go("/ui/volumes")
    expect(T.driver.find_elements(By.LINK_TEXT, "photos") and not T.driver.find_elements(By.CSS_SELECTOR, "form[action='/ui/volumes']"),
           "the key sees photos and no create form")
    go("/ui/volumes/photos/objects")
    expect(not T.driver.find_elements(By.ID, "upload") and not T.driver.find_elements(By.XPATH, "//button[text()='Delete']"),
           "read-only: no upload form and no delete buttons")
    opener = session_opener()
    csrf = csrf_on_page()
    status, _, _ = fetch(opener, "PUT", "/ui/volumes/photos/upload/by-viewer.bin", b"data", {"X-CSRF-Token": csrf})
    expect(status == 403 and T.server.request("GET", "/v1/volumes/photos/objects/by-viewer.bin")[0] == 404,
           "an upload by the read-only key, even with its CSRF token, is refused (403) as S3 would", str(status))
    status, _, _ = fetch(opener, "POST", "/ui/volumes/photos/objects/delete", f"csrf={csrf}&key=fill/1".encode(),
                         {"Content-Type": "application/x-www-form-urlencoded"})
    expect(T.server.request("GET", "/v1/volumes/photos/objects/fill/1")[0] == 200, "a delete by the read-only key changes nothing")
    status, _, got = fetch(opener, "GET", "/ui/volumes/photos/download/fill/2")
    expect(status == 200 and len(got) == 512 * 1024, "the read-only key may download")
    status, _, _ = fetch(old, "GET", "/ui/")
    expect(status == 303, "the admin session logged out no longer works (its cookie is refused)", str(status))
    shot("key-session")
    T.driver.find_element(By.CSS_SELECTOR, "form.logout button").click()
    wait_for(EC.url_contains("/ui/login"), "the login page")
    login_with_token(T.server.token)
    wait_for(lambda d: d.find_elements(By.CSS_SELECTOR, "h1") and d.find_element(By.CSS_SELECTOR, "h1").text == "Overview", "the overview")


def check_activity_and_narrow() -> None:
    begin("8. activity, and 360 px wide")
    go("/ui/activity")
    charts = T.driver.find_elements(By.CSS_SELECTOR, "svg.chart")
    expect(len(charts) == 4 and all(c.find_elements(By.TAG_NAME, "polyline") for c in charts),
           "the activity page draws four graphs (requests, throughput, dirty pages, reserved bytes)")
    shot("activity")
    T.driver.set_window_size(360, 740)
    for path in ("/ui/", "/ui/volumes", "/ui/volumes/photos/objects", "/ui/devices", "/ui/keys", "/ui/activity"):
        go(path)
        width = T.driver.execute_script("return document.documentElement.scrollWidth")
        inner = T.driver.execute_script("return window.innerWidth")
        if width > inner + 1:
            shot("narrow-overflow")
            raise Failure(f"{path} at 360 px: the page is {width} px wide (scrolls sideways)")
        shot("narrow" + path.replace("/", "-").rstrip("-"))
    ok("at 360 px no page scrolls sideways (tables scroll inside their box)")
    T.driver.set_window_size(1280, 900)


def check_secure_cookie(binary: str) -> None:
    begin("9. under TLS the session cookie is Secure")
    data_dir = os.path.join(T.tmp, "tls")
    os.makedirs(data_dir)
    server = base.Server(binary, data_dir, False, ["--tls", "auto"])
    server.start()
    try:
        cert = os.path.join(data_dir, "tls", "cert.pem")
        res = subprocess.run(["curl", "-sS", "-i", "--cacert", cert, server.url + "/ui/login"], capture_output=True, timeout=30)
        nonce = re.search(rb'name="csrf" value="([0-9a-f]+)"', res.stdout).group(1).decode()
        res = subprocess.run(["curl", "-sS", "-i", "--cacert", cert, "-b", f"appliance_login={nonce}", "--data-urlencode", f"csrf={nonce}",
                              "--data-urlencode", f"token={server.token}", server.url + "/ui/login"], capture_output=True, timeout=30)
        cookie = [line for line in res.stdout.decode().splitlines() if line.lower().startswith("set-cookie: appliance_session=")]
        expect(cookie and "Secure" in cookie[0] and "HttpOnly" in cookie[0] and "SameSite=Strict" in cookie[0],
               "over https the session cookie is Secure, HttpOnly, SameSite=Strict", str(cookie))
    finally:
        server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", default=".build/debug/appliance")
    parser.add_argument("--shots", default=".build/console-screenshots")
    parser.add_argument("--time-limit", type=float, default=420.0)
    args = parser.parse_args()
    base.RUN.__init__(args.time_limit)
    T.shots = os.path.abspath(args.shots)
    shutil.rmtree(T.shots, ignore_errors=True)
    os.makedirs(T.shots)
    T.tmp = tempfile.mkdtemp(prefix="appliance-console-")
    binary = os.path.abspath(args.bin)
    failed = None
    started = time.monotonic()
    T.driver = None
    try:
        data_dir = os.path.join(T.tmp, "data")
        os.makedirs(data_dir)
        T.server = base.Server(binary, data_dir, False)
        T.server.start()
        T.driver = browser()
        check_login()
        check_volumes()
        check_paging_resize_delete()
        check_objects()
        check_escaping()
        check_csrf()
        check_devices()
        check_keys()
        check_activity_and_narrow()
        T.server.stop()
        check_secure_cookie(binary)
    except Exception as err:  # noqa: BLE001
        failed = f"[{base.RUN.step}] {type(err).__name__}: {err}"
        traceback.print_exc()
        if T.driver:
            try:
                shot("failure")
            except Exception:  # noqa: BLE001
                pass
        if getattr(T, "server", None) and T.server.log:
            print("--- last server log lines\n" + "\n".join(list(T.server.log)[-30:]), file=sys.stderr)
    finally:
        if T.driver:
            T.driver.quit()
        if getattr(T, "server", None):
            T.server.stop()
        shutil.rmtree(T.tmp, ignore_errors=True)
    print(f"\n{base.RUN.passed} checks passed in {time.monotonic() - started:.1f}s; screenshots in {T.shots}")
    if failed:
        print("FAILED: " + failed, file=sys.stderr)
        return 1
    print("all console checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
