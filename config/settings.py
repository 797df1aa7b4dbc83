"""Typed settings from the environment, with embedded defaults.

Every setting is one row of ``SETTINGS``: name, type, default, help. Nothing
else in Pantau reads ``os.environ``; processes receive a ``Settings`` value.
"""
from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Callable, Mapping

from config.cities import PRESETS, parse_city_hosts


class SettingsError(ValueError):
    """A bad setting: ``str(err)`` is one line naming the variable and the rule."""

    def __init__(self, variable: str, problem: str):
        super().__init__(f"{variable}: {problem}")
        self.variable = variable


@dataclass(frozen=True)
class Setting:
    env: str
    attr: str
    parse: Callable[[str], object]
    default: object
    help: str
    secret: bool = False
    default_text: str | None = None     # how the README shows the default, when not the value itself

    def shown_default(self) -> str:
        """The default as the README's settings table shows it."""
        if self.default_text is not None:
            return self.default_text
        if self.default is None:
            return "*(unset)*"
        if isinstance(self.default, bool):
            return "`on`" if self.default else "`off`"
        if self.default == ():
            return "*(empty)*"
        return f"`{self.default}`"


def _number(raw: str, kind, words: str):
    try:
        return kind(raw)
    except ValueError:
        raise ValueError(f"must be {words}") from None


def _positive_float(raw: str) -> float:
    value = _number(raw, float, "a positive number")
    if value <= 0:
        raise ValueError("must be a positive number")
    return value


def _non_negative_float(raw: str) -> float:
    value = _number(raw, float, "zero or a positive number")
    if value < 0:
        raise ValueError("must be zero or a positive number")
    return value


def _non_negative_int(raw: str) -> int:
    value = _number(raw, int, "zero or a positive whole number")
    if value < 0:
        raise ValueError("must be zero or a positive whole number")
    return value


def _positive_int(raw: str) -> int:
    value = _number(raw, int, "a positive whole number")
    if value <= 0:
        raise ValueError("must be a positive whole number")
    return value


def _redis_url(raw: str) -> str:
    if not raw.startswith(("redis://", "rediss://", "unix://")):
        raise ValueError("must start with redis://, rediss:// or unix://")
    return raw


def _database_url(raw: str) -> str:
    if not raw.startswith(("sqlite://", "sqlite+pysqlite://", "postgresql://", "postgresql+psycopg://")):
        raise ValueError("must be a sqlite:/// or postgresql:// URL")
    if raw.startswith("postgresql://"):
        raw = "postgresql+psycopg://" + raw[len("postgresql://"):]
    return raw


def _city(raw: str) -> str:
    if raw not in PRESETS:
        raise ValueError(f"unknown city preset {raw!r}; choose one of {', '.join(sorted(PRESETS))}")
    return raw


def _cities(raw: str) -> tuple[str, ...]:
    """Comma-separated presets, each once; empty: the one city of PANTAU_CITY."""
    slugs = tuple(part.strip() for part in raw.split(",") if part.strip())
    for slug in slugs:
        _city(slug)
    if len(set(slugs)) != len(slugs):
        raise ValueError("a city is listed twice")
    return slugs


def _path(raw: str) -> Path:
    return Path(raw).expanduser()


def _optional_existing_path(raw: str) -> Path | None:
    if raw == "":
        return None
    path = Path(raw).expanduser()
    if not path.exists():
        raise ValueError(f"{path} does not exist")
    return path


def _public_url(raw: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ValueError("must be an http:// or https:// URL such as https://lapor.example.go.id")
    return raw.rstrip("/")


def _origins(raw: str) -> tuple[str, ...]:
    """Comma-separated web origins (``https://host[:port]``), as a browser sends them in ``Origin``."""
    found = []
    for part in (p.strip() for p in raw.split(",")):
        if not part:
            continue
        scheme, sep, rest = part.partition("://")
        if scheme not in ("http", "https") or not sep or not rest or "/" in rest.rstrip("/"):
            raise ValueError(f"each origin must be http(s)://host[:port] with no path ({part!r} is not)")
        found.append(f"{scheme}://{rest.rstrip('/').lower()}")
    return tuple(found)
def _smtp_url(raw: str) -> str:
    from urllib.parse import urlparse

    parsed = urlparse(raw)
    if parsed.scheme not in ("smtp", "smtps") or not parsed.hostname:
        raise ValueError("must be smtp://[user:password@]host[:port] or smtps://...")
    return raw


def _on_off(raw: str) -> bool:
    if raw.lower() in ("1", "on", "true", "yes"):
        return True
    if raw.lower() in ("0", "off", "false", "no"):
        return False
    raise ValueError("must be on or off")


def _history(raw: str) -> int:
    """``30d`` (days of simulated history) or ``off`` (0)."""
    if raw.lower() in ("0", "off", "no", "false"):
        return 0
    match = re.match(r"^(\d{1,3})d$", raw.strip().lower())
    if not match or not 1 <= int(match.group(1)) <= 365:
        raise ValueError("must be a number of days written like 30d (1d to 365d), or off")
    return int(match.group(1))


def _proof_mode(raw: str) -> str:
    if raw not in ("flag", "refuse"):
        raise ValueError("must be 'flag' or 'refuse'")
    return raw


def _hash_distance(raw: str) -> int:
    value = _non_negative_int(raw)
    if value > 7:
        raise ValueError("must be from 0 to 7 (the photo-hash index finds every match up to 7 bits)")
    return value
def _log_level(raw: str) -> str:
    level = raw.upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise ValueError("must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
    return level


def _language(raw: str) -> str:
    if raw not in ("id", "en"):
        raise ValueError("must be 'id' or 'en'")
    return raw


SETTINGS: tuple[Setting, ...] = (
    Setting("PANTAU_DATA_DIR", "data_dir", _path, Path("var"),
            "Folder for the embedded Redis, the SQLite file, photos and the generated secret key."),
    Setting("REDIS_URL", "redis_url", _redis_url, None,
            "Redis server. Unset: an embedded Redis server is started under PANTAU_DATA_DIR."),
    Setting("DATABASE_URL", "database_url", _database_url, None,
            "SQL system of record. Unset: a SQLite file under PANTAU_DATA_DIR; postgresql://... works too."),
    Setting("DATABASE_REPLICA_URL", "database_replica_url", _database_url, None,
            "Optional read replica (a PostgreSQL standby) serving the kiosk's figures and the public "
            "Open311 reads. Unset: everything reads DATABASE_URL."),
    Setting("PANTAU_CITY", "city", _city, "jakarta",
            "City preset: jakarta, kupang, tarakan, karo or la."),
    Setting("PANTAU_CITIES", "cities", _cities, (),
            "Several cities on one install, e.g. jakarta,kupang: each city's screens under /<city>/ "
            "(/kupang/wall, /kupang/lapor), the list of cities at / and every city on one map at "
            "/overview. Unset: the one city of PANTAU_CITY at /.", default_text="*(unset: one city)*"),
    Setting("PANTAU_CITY_HOSTS", "city_hosts", parse_city_hosts, (),
            "A host per city on a several-city install: hostname=city pairs, comma-separated "
            "(kupang.pantau.example=kupang). On a city's host a path without a city is that city's "
            "(/wall is /kupang/wall); any other host gets the list of cities at /.",
            default_text="*(unset: cities by path only)*"),
    Setting("PANTAU_BOUNDARIES", "boundaries", _optional_existing_path, None,
            "Folder (or single file) with the preset's boundary GeoJSON. Unset: no areas, bounds box only."),
    Setting("SECRET_KEY", "secret_key", str, None,
            "Secret for sessions and CSRF. Unset: generated once and kept in PANTAU_DATA_DIR.", secret=True,
            default_text="*(generated, kept in the data folder)*"),
    Setting("PANTAU_LANGUAGE", "language", _language, "id", "Default UI language: id or en."),
    Setting("PANTAU_SIM_RATE", "sim_rate", _non_negative_float, 2.0,
            "Simulated city feed, new reports per second on average (0 turns it off)."),
    Setting("PANTAU_BATCH_SIZE", "batch_size", _positive_int, 500,
            "Stream entries a consumer reads per batch."),
    Setting("PANTAU_BLOCK_MS", "block_ms", _positive_int, 200,
            "How long a consumer blocks waiting for new entries, in milliseconds."),
    Setting("PANTAU_LINGER_MS", "linger_ms", _non_negative_int, 20,
            "Under load (a read brought a tenth of a batch or more, not a whole one), a consumer waits "
            "this long for more entries before handling them: fewer, larger batches. 0: never waits."),
    Setting("PANTAU_CLAIM_IDLE_S", "claim_idle_s", _positive_float, 30.0,
            "Pending entries idle this long are claimed from a dead consumer."),
    Setting("PANTAU_HOST", "host", str, "127.0.0.1", "Address the web server listens on."),
    Setting("PANTAU_PORT", "port", _positive_int, 8050, "Port the web server listens on."),
    Setting("PANTAU_PROXIES", "proxies", _non_negative_int, 0,
            "Reverse proxies in front of the web server whose X-Forwarded-For/-Proto/-Host to trust "
            "(per-address rate limits need the client's own address). 0: trust none."),
    Setting("PANTAU_WEB_WORKERS", "web_workers", _non_negative_int, 0,
            "Web server processes (gunicorn workers). 0: one per CPU core, at most 8."),
    Setting("PANTAU_WEB_THREADS", "web_threads", _positive_int, 8,
            "Threads per web process answering HTTP requests. A push connection (wall display) gets a thread of its own on top of these (at most PANTAU_SOCKETS_PER_PROCESS of them). "
            "Behind the TLS proxy, which buffers request bodies, a thread is busy only while it computes: more threads than this contend for the process's one running Python thread (bench/api.py: p99 68-91 ms at 8, 85-115 ms at 16)."),
    Setting("PANTAU_REDIS_CLUSTER", "redis_cluster", _on_off, False,
            "REDIS_URL names one node of a Redis Cluster (any node: the others are discovered); "
            "a city's partitions are spread over its shards."),
    Setting("PANTAU_STREAM_PARTITIONS", "stream_partitions", _positive_int, 1,
            "Partitions of a city's event stream, each under its own hash tag ({city:p}) with its own "
            "aggregates; aggregators claim partitions. 1: one stream and one slot per city."),
    Setting("PANTAU_REDIS_WAIT_REPLICAS", "redis_wait_replicas", _non_negative_int, 0,
            "A report is accepted only once this many replicas of its stream's shard have it (Redis WAIT): "
            "a master that dies right after loses nothing accepted. 0: the master's own disk (AOF) only."),
    Setting("PANTAU_PARTITION_LEASE_S", "partition_lease_s", _positive_float, 10.0,
            "With a partitioned stream: a consumer holds each partition it serves for this long and renews "
            "it while alive; a dead consumer's partitions are taken over after it."),
    Setting("PANTAU_REDIS_CONNECT_TIMEOUT_S", "redis_connect_timeout_s", _positive_float, 60.0,
            "How long a process retries (with backoff) to reach Redis at start-up before giving up."),
    Setting("PANTAU_STAFF_IDLE_MINUTES", "staff_idle_minutes", _positive_int, 30,
            "A staff session ends after this many minutes without a request."),
    Setting("PANTAU_AUTOCLOSE_WORKING_DAYS", "autoclose_working_days", _positive_int, 10,
            "A resolved report nobody disputed closes by itself after this many working days."),
    Setting("PANTAU_TILE_URL", "tile_url", str, "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
            "Base map tile URL template for the wall; when unreachable the area outlines are the base layer."),
    Setting("PANTAU_WALL_STALE_S", "wall_stale_s", _positive_float, 30.0,
            "The wall shows 'feed stale' when no live update arrived for this many seconds."),
    Setting("PANTAU_PHOTO_DIR", "photo_dir", _path, None,
            "Folder for uploaded photos. Unset: PANTAU_DATA_DIR/photos."),
    Setting("PANTAU_OPEN311_KEY_RATE", "open311_key_rate", _positive_int, 600,
            "Open311 requests a minute allowed per API key (a key may carry its own limit)."),
    Setting("PANTAU_OPEN311_ADDRESS_RATE", "open311_address_rate", _positive_int, 1200,
            "Open311 requests a minute allowed per client address."),
    Setting("PANTAU_PUBLIC_K", "public_k", _positive_int, 5,
            "Public figures never show a sensitive category with a count from 1 to k-1."),
    Setting("PANTAU_PHOTO_MAX_PIXELS", "photo_max_pixels", _positive_int, 50_000_000,
            "Largest photo accepted, in pixels, read from the file's header before anything is decoded."),
    Setting("PANTAU_PHOTO_MAX_SIDE", "photo_max_side", _positive_int, 12_000,
            "Largest photo accepted, in pixels along its longer side (header checked before decoding)."),
    Setting("PANTAU_PHOTO_STORED_SIDE", "photo_stored_side", _positive_int, 2560,
            "Kept photos are scaled down to at most this many pixels along their longer side."),
    Setting("PANTAU_PHOTO_DECODES", "photo_decodes", _positive_int, 2,
            "Photos a web process decodes at once; more wait up to PANTAU_PHOTO_DECODE_WAIT_S, then 503."),
    Setting("PANTAU_PHOTO_DECODE_WAIT_S", "photo_decode_wait_s", _non_negative_float, 5.0,
            "How long an upload waits for a decode slot before the answer is 503 with Retry-After."),
    Setting("PANTAU_PHOTO_PENDING_TTL_S", "photo_pending_ttl_s", _positive_float, 3600.0,
            "Uploaded photos not attached to a filed report within this many seconds are removed."),
    Setting("PANTAU_FORM_ADDRESS_RATE", "form_address_rate", _positive_int, 20,
            "Report-form submissions a minute allowed per client address."),
    Setting("PANTAU_UPLOAD_ADDRESS_RATE", "upload_address_rate", _positive_int, 20,
            "Photo uploads (report form and Open311) a minute allowed per client address."),
    Setting("PANTAU_SUPPORT_ADDRESS_RATE", "support_address_rate", _positive_int, 10,
            "Supports of existing reports a minute allowed per client address."),
    Setting("PANTAU_SUPPORT_REPORT_ADDRESS_DAY", "support_report_address_day", _positive_int, 3,
            "Supporters one client address may add to one report in a day (several people share an address)."),
    Setting("PANTAU_PUBLIC_URL", "public_url", _public_url, None,
            "The address citizens and Open311 clients reach this server at (https://lapor.example.go.id); "
            "Open311 URLs are built from it, never from the Host header. Unset: http://PANTAU_HOST:PANTAU_PORT."),
    Setting("PANTAU_FEEDBACK_ADDRESS_RATE", "feedback_address_rate", _positive_int, 20,
            "Citizen feedback requests (rate, dispute, read) allowed per client address in any 10 minutes."),
    Setting("PANTAU_FEEDBACK_TICKET_RATE", "feedback_ticket_rate", _positive_int, 5,
            "Ratings and disputes accepted per report in any 24 hours."),
    Setting("PANTAU_SOCKET_ORIGINS", "socket_origins", _origins, (),
            "Web origins besides the page's own allowed to open the wall's push connection "
            "(comma-separated https://host[:port]). Empty: the page's own origin only."),
    Setting("PANTAU_SOCKETS_PER_PROCESS", "sockets_per_process", _positive_int, 80,
            "Push connections (walls) one web process holds at once, each on its own thread beside "
            "the PANTAU_WEB_THREADS that answer HTTP; more are refused."),
    Setting("PANTAU_SOCKETS_PER_ADDRESS", "sockets_per_address", _non_negative_int, 0,
            "Push connections one client address may hold at once in one web process, whatever their "
            "credentials. 0: no cap by address (a room of screens behind one address is counted per "
            "screen: see the two caps below)."),
    Setting("PANTAU_SOCKETS_PER_DISPLAY", "sockets_per_display", _positive_int, 2,
            "Push connections one display token may hold at once in one web process (a reloading "
            "screen briefly holds two): a copied token cannot fill a process."),
    Setting("PANTAU_SOCKETS_PER_ACCOUNT", "sockets_per_account", _positive_int, 8,
            "Push connections one staff account may hold at once in one web process (walls and "
            "consoles in several tabs)."),
    Setting("PANTAU_SOCKET_JOIN_S", "socket_join_s", _positive_float, 10.0,
            "A push connection that joined no wall view within this many seconds is closed."),
    Setting("PANTAU_DISPLAY_CHECK_S", "display_check_s", _positive_float, 30.0,
            "How often open push connections re-check their display token or staff account (a "
            "revocation also reaches them at once through Redis)."),
    Setting("PANTAU_LOGIN_FREE_ATTEMPTS", "login_free_attempts", _positive_int, 5,
            "Wrong passwords for one account from one client address before each further try waits."),
    Setting("PANTAU_LOGIN_DELAY_S", "login_delay_s", _positive_float, 1.0,
            "First wait after the free attempts, in seconds; it doubles with every further wrong password."),
    Setting("PANTAU_LOGIN_MAX_DELAY_S", "login_max_delay_s", _positive_float, 900.0,
            "Longest wait between two tries for one account from one address, in seconds."),
    Setting("PANTAU_LOGIN_ADDRESS_LIMIT", "login_address_limit", _positive_int, 20,
            "Failed sign-ins (any account names) allowed from one client address in the sliding window; "
            "checked before any password is."),
    Setting("PANTAU_LOGIN_ADDRESS_WINDOW_S", "login_address_window_s", _positive_int, 900,
            "The sliding window of PANTAU_LOGIN_ADDRESS_LIMIT, in seconds."),
    Setting("PANTAU_LOGIN_CONCURRENCY", "login_concurrency", _positive_int, 1,
            "Password checks (Argon2) running at once in one web process; more sign-ins wait."),
    Setting("PANTAU_LOGIN_WAIT_S", "login_wait_s", _positive_float, 3.0,
            "How long a sign-in waits for a free password check before a 503 with Retry-After."),
    Setting("PANTAU_METRICS_TOKEN", "metrics_token", str, None,
            "Bearer token /metrics requires (Authorization: Bearer ...). Unset: /metrics answers only "
            "direct loopback requests (no proxy in between).", secret=True),
    Setting("PANTAU_HSTS_SECONDS", "hsts_seconds", _non_negative_int, 31536000,
            "Strict-Transport-Security max-age sent on answers to HTTPS requests. 0: never sent."),
    Setting("PANTAU_SMTP_URL", "smtp_url", _smtp_url, None,
            "Mail server for the weekly report and reporters' updates: smtp://[user:password@]host[:port] (smtps:// for TLS). "
            "Unset: no mail.", secret=True),
    Setting("PANTAU_MAIL_FROM", "mail_from", str, "pantau@localhost", "Sender address of the weekly report and reporters' updates."),
    Setting("PANTAU_PROOF_RADIUS_M", "proof_radius_m", _positive_float, 150.0,
            "A field officer's start/resolve counts as at the site within this many metres of the report "
            "(the phone's accuracy is added; an accuracy worse than the radius never verifies)."),
    Setting("PANTAU_PROOF_LOCATION", "proof_location", _proof_mode, "flag",
            "A resolution away from the site or without a location: 'flag' (saved, marked "
            "'lokasi tidak terverifikasi') or 'refuse'."),
    Setting("PANTAU_PROOF_HASH_REFUSE", "proof_hash_refuse", _hash_distance, 4,
            "An after photo whose perceptual hash is within this many bits (of 64) of the report's own "
            "before photo or any earlier photo in the city is refused as reused."),
    Setting("PANTAU_PROOF_HASH_NEAR", "proof_hash_near", _hash_distance, 7,
            "Within this many bits (but beyond PANTAU_PROOF_HASH_REFUSE) an after photo is saved and flagged "
            "as a near match (at most 7)."),
    Setting("PANTAU_SEED_HISTORY", "seed_history_days", _history, 30,
            "On a new (empty) database, `python -m app run` first seeds this much simulated history with its "
            "follow-up (`python -m ingest simulate --history 30d`), so every screen shows a living city; off: none.",
            default_text="`30d`"),
    Setting("PANTAU_WEEKLY_REPORT", "weekly_report", _on_off, True,
            "Build the weekly report every Monday 07.00 local time in `python -m app run` (on/off)."),
    Setting("PANTAU_LOG_LEVEL", "log_level", _log_level, "INFO",
            "Log level of every process: DEBUG, INFO, WARNING, ERROR or CRITICAL."),
    Setting("PANTAU_NEW_USER_PASSWORD", "new_user_password", str, None,
            "Password `python -m app.auth users create` gives the new account instead of asking twice "
            "(for scripted set-ups). Unset: asked at the prompt.", secret=True),
)


# Each default is written once, in its SETTINGS row; the dataclass's fields take it from there.
DEFAULTS: dict[str, object] = {setting.attr: setting.default for setting in SETTINGS}


@dataclass(frozen=True)
class Settings:
    data_dir: Path = DEFAULTS["data_dir"]
    redis_url: str | None = DEFAULTS["redis_url"]
    database_url: str | None = DEFAULTS["database_url"]
    database_replica_url: str | None = DEFAULTS["database_replica_url"]
    city: str = DEFAULTS["city"]
    cities: tuple[str, ...] = DEFAULTS["cities"]
    city_hosts: tuple[tuple[str, str], ...] = DEFAULTS["city_hosts"]
    boundaries: Path | None = DEFAULTS["boundaries"]
    secret_key: str | None = field(default=DEFAULTS["secret_key"], repr=False)
    language: str = DEFAULTS["language"]
    sim_rate: float = DEFAULTS["sim_rate"]
    batch_size: int = DEFAULTS["batch_size"]
    block_ms: int = DEFAULTS["block_ms"]
    linger_ms: int = DEFAULTS["linger_ms"]
    claim_idle_s: float = DEFAULTS["claim_idle_s"]
    host: str = DEFAULTS["host"]
    port: int = DEFAULTS["port"]
    proxies: int = DEFAULTS["proxies"]
    web_workers: int = DEFAULTS["web_workers"]
    web_threads: int = DEFAULTS["web_threads"]
    redis_connect_timeout_s: float = DEFAULTS["redis_connect_timeout_s"]
    redis_cluster: bool = DEFAULTS["redis_cluster"]
    stream_partitions: int = DEFAULTS["stream_partitions"]
    partition_lease_s: float = DEFAULTS["partition_lease_s"]
    redis_wait_replicas: int = DEFAULTS["redis_wait_replicas"]
    staff_idle_minutes: int = DEFAULTS["staff_idle_minutes"]
    autoclose_working_days: int = DEFAULTS["autoclose_working_days"]
    tile_url: str = DEFAULTS["tile_url"]
    wall_stale_s: float = DEFAULTS["wall_stale_s"]
    photo_dir: Path | None = DEFAULTS["photo_dir"]
    open311_key_rate: int = DEFAULTS["open311_key_rate"]
    open311_address_rate: int = DEFAULTS["open311_address_rate"]
    public_k: int = DEFAULTS["public_k"]
    photo_max_pixels: int = DEFAULTS["photo_max_pixels"]
    photo_max_side: int = DEFAULTS["photo_max_side"]
    photo_stored_side: int = DEFAULTS["photo_stored_side"]
    photo_decodes: int = DEFAULTS["photo_decodes"]
    photo_decode_wait_s: float = DEFAULTS["photo_decode_wait_s"]
    photo_pending_ttl_s: float = DEFAULTS["photo_pending_ttl_s"]
    form_address_rate: int = DEFAULTS["form_address_rate"]
    upload_address_rate: int = DEFAULTS["upload_address_rate"]
    support_address_rate: int = DEFAULTS["support_address_rate"]
    support_report_address_day: int = DEFAULTS["support_report_address_day"]
    public_url: str | None = DEFAULTS["public_url"]
    feedback_address_rate: int = DEFAULTS["feedback_address_rate"]
    feedback_ticket_rate: int = DEFAULTS["feedback_ticket_rate"]
    socket_origins: tuple[str, ...] = DEFAULTS["socket_origins"]
    sockets_per_process: int = DEFAULTS["sockets_per_process"]
    sockets_per_address: int = DEFAULTS["sockets_per_address"]
    sockets_per_display: int = DEFAULTS["sockets_per_display"]
    sockets_per_account: int = DEFAULTS["sockets_per_account"]
    socket_join_s: float = DEFAULTS["socket_join_s"]
    display_check_s: float = DEFAULTS["display_check_s"]
    login_free_attempts: int = DEFAULTS["login_free_attempts"]
    login_delay_s: float = DEFAULTS["login_delay_s"]
    login_max_delay_s: float = DEFAULTS["login_max_delay_s"]
    login_address_limit: int = DEFAULTS["login_address_limit"]
    login_address_window_s: int = DEFAULTS["login_address_window_s"]
    login_concurrency: int = DEFAULTS["login_concurrency"]
    login_wait_s: float = DEFAULTS["login_wait_s"]
    metrics_token: str | None = field(default=DEFAULTS["metrics_token"], repr=False)
    hsts_seconds: int = DEFAULTS["hsts_seconds"]
    smtp_url: str | None = field(default=DEFAULTS["smtp_url"], repr=False)
    mail_from: str = DEFAULTS["mail_from"]
    seed_history_days: int = DEFAULTS["seed_history_days"]
    weekly_report: bool = DEFAULTS["weekly_report"]
    proof_radius_m: float = DEFAULTS["proof_radius_m"]
    proof_location: str = DEFAULTS["proof_location"]
    proof_hash_refuse: int = DEFAULTS["proof_hash_refuse"]
    proof_hash_near: int = DEFAULTS["proof_hash_near"]
    log_level: str = DEFAULTS["log_level"]
    new_user_password: str | None = field(default=DEFAULTS["new_user_password"], repr=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if env is None else env
        values: dict[str, object] = {}
        for setting in SETTINGS:
            raw = env.get(setting.env)
            if raw is None or (raw == "" and setting.default is None):
                values[setting.attr] = setting.default
                continue
            try:
                values[setting.attr] = setting.parse(raw.strip())
            except ValueError as err:
                shown = "<hidden>" if setting.secret else repr(raw)
                raise SettingsError(setting.env, f"{err} (got {shown})") from None
        return cls(**values)


    @classmethod
    def for_command(cls) -> "Settings":
        """``from_env`` for a process's entry point: a bad setting ends it with one line."""
        try:
            return cls.from_env()
        except SettingsError as err:
            raise SystemExit(f"pantau: bad setting {err}") from None

    def with_(self, **changes) -> "Settings":
        return replace(self, **changes)

    @property
    def multi_city(self) -> bool:
        """PANTAU_CITIES is set: every city under its own path, the list at /."""
        return bool(self.cities)

    def for_city(self, slug: str) -> "Settings":
        """One city's settings on a several-city install: its preset, its public links under /<slug>."""
        return replace(self, city=slug, public_url=f"{self.resolved_public_url()}/{slug}")

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "pantau.sqlite3"

    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.sqlite_path.resolve()}"

    def resolved_secret_key(self) -> str:
        """The configured secret, or one generated once and kept in the data folder."""
        if self.secret_key:
            return self.secret_key
        path = self.data_dir / "secret_key"
        if path.exists():
            return path.read_text().strip()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        # Written whole under a private name, then linked into place: a process starting at the
        # same moment either links first or reads a complete key, never half of one.
        draft = self.data_dir / f".secret_key.{os.getpid()}"
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(key)
        try:
            os.link(draft, path)
        except FileExistsError:
            key = path.read_text().strip()
        finally:
            draft.unlink()
        return key

    def resolved_public_url(self) -> str:
        """The base URL of public links (no trailing slash)."""
        return self.public_url or f"http://{self.host}:{self.port}"

    def resolved_web_workers(self) -> int:
        return self.web_workers or max(1, min(os.cpu_count() or 1, 8))

    def resolved_sockets_per_process(self) -> int:
        """Push connections a process holds at once, each on a thread beside the HTTP threads."""
        return self.sockets_per_process

    def describe(self) -> list[str]:
        """One line per setting, secrets hidden: for start-up logs."""
        lines = []
        for setting in SETTINGS:
            value = getattr(self, setting.attr)
            shown = "<set>" if setting.secret and value else value
            lines.append(f"{setting.env}={shown}")
        return lines


assert {s.attr for s in SETTINGS} == {f.name for f in fields(Settings)}


def log_level() -> str:
    """``PANTAU_LOG_LEVEL`` for ``logging.basicConfig`` as a command starts (before its settings are
    read, so a bad value elsewhere is still reported through the log); INFO when unset or bad."""
    setting = next(s for s in SETTINGS if s.attr == "log_level")
    try:
        return _log_level(os.environ.get(setting.env, setting.default).strip())
    except ValueError:
        return setting.default


def child_environment(**changes: str) -> dict[str, str]:
    """This process's environment with ``changes``: what a child process (a consumer, the web
    server) is started with, so it reads the same settings."""
    return {**os.environ, **changes}


def markdown_table() -> str:
    """The README's settings table, generated from ``SETTINGS``: ``python -m config.settings --markdown``."""
    lines = ["| variable | default | meaning |", "| --- | --- | --- |"]
    lines += [f"| `{s.env}` | {s.shown_default()} | {s.help} |" for s in SETTINGS]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m config.settings",
                                     description="Pantau's settings: the current values, or the README table.")
    parser.add_argument("--markdown", action="store_true", help="print the README's settings table")
    args = parser.parse_args(argv)
    if args.markdown:
        print(markdown_table(), end="")
        return 0
    print("\n".join(Settings.for_command().describe()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
