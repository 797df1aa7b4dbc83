"""The running system's handles, built once per process from ``Settings``.

Screens, workers, the CLI and the tests all get their Redis client, SQL
engine, city preset, area index and producer from here: no module-level state.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import redis
from sqlalchemy.engine import Engine

from app.areas import AreaIndex
from app.memo import Memo
from app.store import db, migrate
from app.store.files import make_data_private
from app.store.keys import Keys
from app.store.redis_conn import EmbeddedRedis, RedisUnavailable, connect, redis_url_for
from config.cities import PRESETS, CityPreset
from config.settings import Settings
from ingest.producer import Producer


@dataclass
class Services:
    settings: Settings
    preset: CityPreset
    areas: AreaIndex
    redis: redis.Redis
    redis_url: str
    engine: Engine
    producer: Producer
    embedded_redis: EmbeddedRedis | None = None
    # The public reads (kiosk figures, Open311 GETs): DATABASE_REPLICA_URL's engine, else ``engine``.
    read_engine: Engine | None = None
    memo: Memo = field(default_factory=Memo)   # short-lived shared results (wall panels)
    shared: bool = False    # made by for_city: closing it leaves the handles open

    def __post_init__(self):
        if self.read_engine is None:
            self.read_engine = self.engine

    @property
    def keys(self) -> Keys:
        return Keys.for_city(self.preset)

    @classmethod
    def open(cls, settings: Settings) -> "Services":
        make_data_private(settings)
        preset = replace(PRESETS[settings.city], stream_partitions=settings.stream_partitions)
        areas = AreaIndex.load(preset, settings.boundaries)
        url, embedded = redis_url_for(settings)
        client = connect(url, settings.redis_connect_timeout_s, cluster=settings.redis_cluster)
        engine = db.make_engine(settings.resolved_database_url())
        migrate.create_schema(engine)
        producer = Producer(client, preset, areas, partitions=settings.stream_partitions,
                            wait_replicas=settings.redis_wait_replicas)
        replica = db.make_engine(settings.database_replica_url) if settings.database_replica_url else engine
        return cls(settings, preset, areas, client, url, engine, producer,
                   embedded, replica)

    @classmethod
    def open_for_command(cls) -> "Services":
        """For command-line tools: settings from the environment; a bad setting or an unreachable
        Redis ends the process with one line that says what is wrong."""
        settings = Settings.for_command()
        try:
            return cls.open(settings)
        except RedisUnavailable as err:
            raise SystemExit(f"pantau: {err}") from None

    def for_city(self, slug: str) -> "Services":
        """Another city of a several-city install (PANTAU_CITIES): its own preset, areas, producer and
        settings; the same Redis client and SQL engine (every key and row carries its city)."""
        settings = self.settings.for_city(slug)
        preset = replace(PRESETS[slug], stream_partitions=settings.stream_partitions)
        areas = AreaIndex.load(preset, settings.boundaries)
        producer = Producer(self.redis, preset, areas, partitions=settings.stream_partitions,
                            wait_replicas=settings.redis_wait_replicas)
        return Services(settings, preset, areas, self.redis, self.redis_url, self.engine, producer,
                        read_engine=self.read_engine, shared=True)

    def close(self) -> None:
        if self.shared:
            return    # the handles belong to the Services it was made from

        self.redis.close()
        self.engine.dispose()
        if self.read_engine is not self.engine:
            self.read_engine.dispose()
        if self.embedded_redis is not None:
            self.embedded_redis.stop()
