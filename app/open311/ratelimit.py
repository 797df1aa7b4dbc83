"""Fixed-window rate limits in Redis: one counter per subject per minute, one round trip."""
from __future__ import annotations

import time

WINDOW_S = 60


def hit(client, keys, scope: str, subject: str, limit: int, now: float | None = None) -> int | None:
    """Count one request; None when within ``limit``, else the seconds until the window ends."""
    now = time.time() if now is None else now
    window = int(now // WINDOW_S)
    key = keys.rate_window(scope, subject, window)
    pipe = client.pipeline(transaction=False)
    # SET NX EX then INCR: the counter gets its expiry once (EXPIRE NX needs Redis 7).
    pipe.set(key, 0, ex=WINDOW_S * 2, nx=True)
    pipe.incr(key)
    _, count = pipe.execute()
    if count > limit:
        return max(1, int((window + 1) * WINDOW_S - now))
    return None
