"""TrustChainCache: bounded, kept until expiry, thread-safe."""

from __future__ import annotations

import dataclasses
import threading

import pytest

from idp.federation.trust_chain import TrustChain, TrustChainCache, resolve_trust_chain
from tests.federation.builder import LEAF, NOW, three_level_federation


class Clock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def chain() -> TrustChain:
    federation = three_level_federation()
    return resolve_trust_chain(
        LEAF, trust_anchors=federation.trust_anchors(), fetcher=federation, now=NOW
    )


def variant(chain: TrustChain, entity_id: str, expires_at: int | None = None) -> TrustChain:
    return dataclasses.replace(
        chain, entity_id=entity_id, expires_at=expires_at or chain.expires_at
    )


def test_a_chain_is_kept_until_it_expires(chain: TrustChain) -> None:
    clock = Clock()
    cache = TrustChainCache(clock=clock)
    cache.put(chain)
    assert cache.get(LEAF) is chain
    assert cache.get(LEAF, "openid_relying_party") is None
    clock.now = chain.expires_at - 1
    assert cache.get(LEAF) is chain
    clock.now = chain.expires_at
    assert cache.get(LEAF) is None
    assert len(cache) == 0


def test_an_expired_chain_is_not_stored(chain: TrustChain) -> None:
    cache = TrustChainCache(clock=Clock(chain.expires_at + 1))
    cache.put(chain)
    assert len(cache) == 0


def test_max_age_bounds_staleness(chain: TrustChain) -> None:
    clock = Clock()
    cache = TrustChainCache(clock=clock, max_age_seconds=300)
    cache.put(chain)
    clock.now += 299
    assert cache.get(LEAF) is chain
    clock.now += 1
    assert cache.get(LEAF) is None


def test_the_least_recently_used_chain_is_evicted(chain: TrustChain) -> None:
    cache = TrustChainCache(max_entries=2, clock=Clock())
    cache.put(variant(chain, "https://a.example.org"))
    cache.put(variant(chain, "https://b.example.org"))
    assert cache.get("https://a.example.org") is not None
    cache.put(variant(chain, "https://c.example.org"))
    assert cache.get("https://b.example.org") is None
    assert cache.get("https://a.example.org") is not None
    assert cache.get("https://c.example.org") is not None
    assert len(cache) == 2


def test_expired_chains_are_evicted_before_live_ones(chain: TrustChain) -> None:
    clock = Clock()
    cache = TrustChainCache(max_entries=2, clock=clock)
    cache.put(variant(chain, "https://short.example.org", expires_at=NOW + 10))
    cache.put(variant(chain, "https://long.example.org"))
    clock.now += 20
    cache.put(variant(chain, "https://new.example.org"))
    assert cache.get("https://long.example.org") is not None
    assert cache.get("https://new.example.org") is not None


def test_invalidate(chain: TrustChain) -> None:
    cache = TrustChainCache(clock=Clock())
    cache.put(chain)
    cache.put(variant(chain, "https://other.example.org"))
    cache.invalidate(LEAF)
    assert cache.get(LEAF) is None
    assert len(cache) == 1
    cache.invalidate()
    assert len(cache) == 0


def test_get_or_resolve_resolves_once(chain: TrustChain) -> None:
    cache = TrustChainCache(clock=Clock())
    calls: list[str] = []

    def resolve() -> TrustChain:
        calls.append(LEAF)
        return chain

    assert cache.get_or_resolve(LEAF, "openid_provider", resolve) is chain
    assert cache.get_or_resolve(LEAF, "openid_provider", resolve) is chain
    assert calls == [LEAF]


def test_concurrent_use_stays_bounded(chain: TrustChain) -> None:
    cache = TrustChainCache(max_entries=8, clock=Clock())
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            for n in range(200):
                entity_id = f"https://e{(worker * 7 + n) % 20}.example.org"
                cache.put(variant(chain, entity_id))
                cache.get(entity_id)
                if n % 50 == 0:
                    cache.invalidate(entity_id)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(worker,)) for worker in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(cache) <= 8


def test_max_entries_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_entries"):
        TrustChainCache(max_entries=0)
