"""A first load of a page on a phone over an emulated slow link, for the phone benchmarks
(``bench/lapor.py``, ``bench/tugas.py``): a 360×800 touch screen at 2× density in ``id-ID``, a fresh
context (an empty HTTP cache: a first visit), the network and the CPU throttled through Chromium's
DevTools protocol (``Network.emulateNetworkConditions``, ``Emulation.setCPUThrottlingRate``).
"""
from __future__ import annotations

from urllib.parse import urlsplit


def first_load(browser, url: str, ready: str, profile: dict, storage_state: dict | None = None,
               timeline: bool = False) -> dict:
    """Load ``url`` once under ``profile`` (``rtt_ms``, ``download_bps``, ``upload_bps``, ``cpu``) until
    ``ready`` is visible (usable) and the network is idle. ``storage_state``: a signed-in session
    (cookies only). ``timeline``: print each request's start and end (ms after the first request).

    Answers the bytes from this server in all and when usable, its requests, the seconds to usable,
    the requests to other hosts (map tiles) and the largest answers."""
    context = browser.new_context(viewport={"width": 360, "height": 800}, device_scale_factor=2,
                                  is_mobile=True, has_touch=True, locale="id-ID",
                                  **({"storage_state": storage_state} if storage_state else {}))
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    # A fresh context has an empty HTTP cache (a first visit); it is not disabled, so what the page
    # keeps for offline use afterwards comes from it, as on a phone.
    cdp.send("Network.emulateNetworkConditions", {
        "offline": False, "latency": profile["rtt_ms"],
        "downloadThroughput": profile["download_bps"] / 8, "uploadThroughput": profile["upload_bps"] / 8})
    cdp.send("Emulation.setCPUThrottlingRate", {"rate": profile["cpu"]})
    urls: dict[str, str] = {}
    sizes: dict[str, int] = {}
    starts: dict[str, float] = {}
    ends: dict[str, float] = {}
    methods: dict[str, str] = {}
    host = urlsplit(url).netloc

    def sent(e):
        urls[e["requestId"]] = e["request"]["url"]
        methods[e["requestId"]] = e["request"]["method"]
        starts.setdefault(e["requestId"], e["timestamp"])

    def finished(e):
        sizes[e["requestId"]] = int(e["encodedDataLength"])
        ends[e["requestId"]] = e["timestamp"]

    cdp.on("Network.requestWillBeSent", sent)
    cdp.on("Network.loadingFinished", finished)
    page.goto(url, wait_until="commit")
    page.wait_for_selector(ready, state="visible", timeout=120_000)
    # Usable: the control is on screen and the page answers (a frame after it appeared).
    usable_ms = page.evaluate("() => new Promise(r => requestAnimationFrame(() => r(performance.now())))")
    at_usable = sum(size for rid, size in sizes.items() if urlsplit(urls.get(rid, "")).netloc == host)
    page.wait_for_load_state("networkidle", timeout=120_000)
    ours = {rid: size for rid, size in sizes.items() if urlsplit(urls.get(rid, "")).netloc == host}
    if timeline and starts:
        zero = min(starts.values())
        print(f"    timeline of {urlsplit(url).path} (usable at {usable_ms:.0f} ms after navigation start):")
        for rid in sorted(starts, key=starts.get):
            end = ends.get(rid)
            print(f"    {1000 * (starts[rid] - zero):7.0f} -> {1000 * (end - zero) if end else float('nan'):7.0f} ms "
                  f"{methods.get(rid, '?'):4} {sizes.get(rid, 0):7d} B  {urlsplit(urls[rid]).path[-70:]}")
    result = {"bytes": sum(ours.values()), "bytes_at_usable": at_usable, "requests": len(ours),
              "usable_s": round(usable_ms / 1000.0, 2), "third_party_requests": len(sizes) - len(ours),
              "largest": sorted(((size, urlsplit(urls[rid]).path) for rid, size in ours.items()),
                                reverse=True)[:8]}
    context.close()
    return result
