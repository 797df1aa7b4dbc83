"""A real 3-master Redis Cluster on loopback ports for the whole run, and services on it with a
partitioned stream (``tests.redis_cluster``)."""
import pytest

from tests.conftest import make_settings

PARTITIONS = 4


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory):
    from tests.redis_cluster import LocalCluster

    cluster = LocalCluster(tmp_path_factory.mktemp("cluster"), masters=3).start()
    yield cluster
    cluster.stop()


def cluster_settings(tmp_path, cluster, database_url, **extra):
    return make_settings(tmp_path, cluster.url, database_url, redis_cluster=True,
                         stream_partitions=PARTITIONS, partition_lease_s=2.0, **extra)


@pytest.fixture
def cluster_services(tmp_path, redis_cluster, database_url):
    from app.services import Services

    redis_cluster.flush()
    svc = Services.open(cluster_settings(tmp_path, redis_cluster, database_url))
    yield svc
    svc.close()
