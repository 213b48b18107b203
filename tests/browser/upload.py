"""A real browser uploads through a page on another origin (issue 12, item 3).

Headless Chromium (Debian's, driven by Playwright) opens tests/browser/page on the page
origin, uploads a file through it — the API for initiate, complete and the share, the
embedded store of `fluidcloud dev` for the presigned PUT — and the raw link it shows
must serve the same bytes. The same page on an origin the server does not list must
fail, because the browser withholds the API's answers from it.

Run by scripts/browser-test, which starts the servers and sets:
  FC_API_URL, FC_API_KEY       the API of `fluidcloud dev` and its key
  FC_PAGE_URL, FC_OTHER_URL    the page on the allowed origin, and on another one
  FC_CHROMIUM                  the browser binary (default /usr/bin/chromium)
"""

import os
import sys
import tempfile
import urllib.request

from playwright.sync_api import sync_playwright

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# Not valid UTF-8 and not text: the bytes must come back exactly, not re-encoded.
CONTENT = bytes(range(256)) * 8 + "é ✓ end".encode()


def upload_through(context, page_url, timeout_ms=30_000):
    """Opens the page, uploads CONTENT through it; returns (link, page fields, error)."""
    page = context.new_page()
    console = []
    page.on("console", lambda message: console.append(message.text))
    page.goto(page_url)
    page.fill("#api", os.environ["FC_API_URL"])
    page.fill("#key", os.environ["FC_API_KEY"])
    page.set_input_files(
        "#file", files=[{"name": "browser.bin", "mimeType": "application/octet-stream", "buffer": CONTENT}]
    )
    page.click("#upload")
    page.wait_for_function(
        "document.getElementById('link').href || document.getElementById('error').textContent",
        timeout=timeout_ms,
    )
    fields = {
        name: page.text_content(f"#{name}") or ""
        for name in ["request-id", "remaining", "etag", "scan-status", "error"]
    }
    link = page.get_attribute("#link", "href")
    page.close()
    return link, fields, console


def main():
    chromium = os.environ.get("FC_CHROMIUM", "/usr/bin/chromium")
    with tempfile.TemporaryDirectory(prefix="fc-chromium-") as profile, sync_playwright() as p:
        # A fresh profile each run; launch_persistent_context is how Playwright takes one.
        context = p.chromium.launch_persistent_context(
            profile, executable_path=chromium, headless=True, args=CHROMIUM_ARGS
        )
        try:
            link, fields, console = upload_through(context, os.environ["FC_PAGE_URL"])
            assert not fields["error"], f"the page failed: {fields['error']} {console}"
            assert link and link.startswith("http"), f"no raw link shown: {fields}"
            # Headers the API and the store expose to the page, read by the page itself.
            assert fields["request-id"], fields
            assert fields["remaining"].isdigit(), fields
            assert fields["etag"].startswith('"') and len(fields["etag"]) > 2, fields
            assert fields["scan-status"] == "clean", fields
            with urllib.request.urlopen(link, timeout=10) as response:
                served = response.read()
            assert served == CONTENT, f"the link served {len(served)} other bytes"
            print(f"allowed origin: uploaded {len(CONTENT)} bytes, {link} serves them")

            _, refused, _ = upload_through(context, os.environ["FC_OTHER_URL"])
            # fetch() rejects with a TypeError when CORS withholds the answer.
            assert "TypeError" in refused["error"] or "Failed to fetch" in refused["error"], refused
            print(f"other origin: refused by the browser ({refused['error']})")
        finally:
            context.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
