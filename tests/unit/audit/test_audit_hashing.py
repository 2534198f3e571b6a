"""Tests for connector.audit.hashing: RFC 9162 hashes, roots and the stored-hash layout."""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connector.audit.errors import TreeStateError
from connector.audit.hashing import (
    EMPTY_ROOT,
    HASH_SIZE,
    LEAF_PREFIX,
    NODE_PREFIX,
    fold_stored_subtree,
    largest_power_of_two_below,
    leaf_hash,
    node_hash,
    root_from_leaves,
    split_stored_hash_index,
    stored_hash_count,
    stored_hash_index,
    stored_hashes_for_append,
    stored_subtree_indexes,
    tree_hash,
)

VECTORS = Path(__file__).parents[2] / "vectors"
# transparency-dev/merkle testonly/constants.go, see the file's "_source".
REFERENCE = json.loads((VECTORS / "merkle_rfc6962_reference_tree.json").read_text())


class MemoryStore:
    """The stored tree state as a Python list, indexed by stored-hash index."""

    def __init__(self) -> None:
        self.hashes: list[bytes] = []
        self.reads: list[list[int]] = []

    def read(self, indexes: list[int]) -> list[bytes]:
        self.reads.append(indexes)
        assert indexes == sorted(set(indexes)), "reads must ask for increasing indexes"
        return [self.hashes[i] for i in indexes]


def naive_mth(leaves: list[bytes]) -> bytes:
    """RFC 9162 §2.1.1 MTH, written straight from the definition."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(b"\x01" + naive_mth(leaves[:k]) + naive_mth(leaves[k:])).digest()


LEAVES_1000 = [leaf_hash(b"entry %d" % i) for i in range(1000)]


@functools.cache
def naive_range(lo: int, hi: int) -> bytes:
    """Memoised naive MTH over LEAVES_1000[lo:hi] (same recursion, shared subtrees)."""
    if hi - lo == 1:
        return LEAVES_1000[lo]
    k = 1
    while k * 2 < hi - lo:
        k *= 2
    return hashlib.sha256(b"\x01" + naive_range(lo, lo + k) + naive_range(lo + k, hi)).digest()


@pytest.fixture(scope="module")
def store_1000() -> MemoryStore:
    store = MemoryStore()
    for n, h in enumerate(LEAVES_1000):
        store.hashes.extend(stored_hashes_for_append(n, h, store.read))
        assert len(store.hashes) == stored_hash_count(n + 1)
    return store


def test_prefix_constants_and_primitives() -> None:
    assert LEAF_PREFIX == b"\x00"
    assert NODE_PREFIX == b"\x01"
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert leaf_hash(b"abc") == hashlib.sha256(b"\x00abc").digest()
    left, right = b"L" * 32, b"R" * 32
    assert node_hash(left, right) == hashlib.sha256(b"\x01" + left + right).digest()
    assert len(leaf_hash(b"")) == HASH_SIZE


def test_reference_tree_leaf_and_root_hashes() -> None:
    inputs = [bytes.fromhex(x) for x in REFERENCE["leaf_inputs"]]
    leaves = [leaf_hash(x) for x in inputs]
    assert [h.hex() for h in leaves] == REFERENCE["node_hashes"][0]
    for size, want in enumerate(REFERENCE["root_hashes"]):
        assert root_from_leaves(leaves[:size]).hex() == want, size


def test_reference_tree_stored_node_hashes() -> None:
    store = MemoryStore()
    for n, x in enumerate(REFERENCE["leaf_inputs"]):
        store.hashes.extend(stored_hashes_for_append(n, leaf_hash(bytes.fromhex(x)), store.read))
    for level, hashes in enumerate(REFERENCE["node_hashes"]):
        for n, want in enumerate(hashes):
            assert store.hashes[stored_hash_index(level, n)].hex() == want, (level, n)
    for size, want in enumerate(REFERENCE["root_hashes"]):
        assert tree_hash(size, store.read).hex() == want


def test_subtree_hash_vector_from_merkle_tree_certs_draft() -> None:
    # draft-ietf-plants-merkle-tree-certs, "Subtree Test Vectors" appendix, as checked in
    # transparency-dev/merkle testonly/vectors_test.go TestSubtreeHashVectors: leaves
    # d[i] = byte(i), every valid subtree [start, end) with end <= 130, folded into SHA-256.
    leaves = [leaf_hash(bytes([i])) for i in range(130)]
    rolling = hashlib.sha256()
    for end in range(131):
        for start in range(end + 1):
            width = end - start
            if start and width and start % (1 << (width - 1).bit_length()):
                continue  # start must be a multiple of bit_ceil(width)
            subtree = root_from_leaves(leaves[start:end])
            rolling.update(f"[{start}, {end}) {subtree.hex()}\n".encode())
    want = "b82806ad4265bb151c1119c0f4db437bb4d1a1f887b3a7fba1cd4ebf552e3e81"
    assert rolling.hexdigest() == want


def test_every_size_to_1000_matches_naive_reference(store_1000: MemoryStore) -> None:
    assert root_from_leaves([]) == naive_mth([]) == tree_hash(0, store_1000.read)
    for size in range(1, 1001):
        want = naive_range(0, size)
        assert root_from_leaves(LEAVES_1000[:size]) == want, size
        assert tree_hash(size, store_1000.read) == want, size


def test_naive_references_agree() -> None:
    for size in (1, 2, 3, 7, 8, 9, 100):
        assert naive_mth(LEAVES_1000[:size]) == naive_range(0, size)


def test_tree_hash_reads_at_most_log_n_hashes_once(store_1000: MemoryStore) -> None:
    for size in (1, 2, 3, 255, 256, 257, 999, 1000):
        store_1000.reads.clear()
        tree_hash(size, store_1000.read)
        assert len(store_1000.reads) == 1
        assert len(store_1000.reads[0]) == size.bit_count() <= 1 + size.bit_length()


def test_append_writes_one_plus_trailing_ones_hashes() -> None:
    store = MemoryStore()
    for n in range(64):
        before = len(store.hashes)
        store.hashes.extend(stored_hashes_for_append(n, leaf_hash(b"%d" % n), store.read))
        trailing_ones = (n ^ (n + 1)).bit_length() - 1
        assert len(store.hashes) - before == 1 + trailing_ones


def test_stored_hash_index_layout() -> None:
    # The first hashes as laid out by x/mod/sumdb/tlog: leaves and completed subtrees in
    # the order they become complete.
    order = [(0, 0), (0, 1), (1, 0), (0, 2), (0, 3), (1, 1), (2, 0), (0, 4)]
    assert [stored_hash_index(level, n) for level, n in order] == list(range(len(order)))
    for index in range(stored_hash_count(1000)):
        level, n = split_stored_hash_index(index)
        assert stored_hash_index(level, n) == index
    assert [stored_hash_count(n) for n in range(9)] == [0, 1, 3, 4, 7, 8, 10, 11, 15]


@given(st.integers(min_value=0, max_value=40), st.integers(min_value=0, max_value=2**40))
def test_split_inverts_stored_hash_index(level: int, n: int) -> None:
    assert split_stored_hash_index(stored_hash_index(level, n)) == (level, n)


@given(st.lists(st.binary(max_size=8), max_size=70))
def test_root_from_leaves_matches_naive(entries: list[bytes]) -> None:
    leaves = [leaf_hash(e) for e in entries]
    assert root_from_leaves(leaves) == naive_mth(leaves)


def test_stored_subtree_decomposition(store_1000: MemoryStore) -> None:
    for lo, hi in [(0, 1000), (512, 1000), (768, 1000), (992, 1000), (8, 16), (999, 1000)]:
        hashes = [store_1000.hashes[i] for i in stored_subtree_indexes(lo, hi)]
        assert fold_stored_subtree(hashes) == naive_range(lo, hi)


@pytest.mark.parametrize(("call", "message"), [
    (lambda: stored_subtree_indexes(3, 5), "not aligned"),
    (lambda: stored_subtree_indexes(4, 4), "invalid leaf range"),
    (lambda: fold_stored_subtree([]), "at least one"),
    (lambda: stored_hash_index(-1, 0), "invalid tree coordinate"),
    (lambda: split_stored_hash_index(-1), "invalid stored hash index"),
    (lambda: stored_hash_count(-1), "invalid tree size"),
    (lambda: tree_hash(-1, lambda i: []), "invalid tree size"),
    (lambda: stored_hashes_for_append(-1, b"x" * 32, lambda i: []), "invalid leaf index"),
    (lambda: stored_hashes_for_append(0, b"short", lambda i: []), "leaf hash is 5 bytes"),
    (lambda: largest_power_of_two_below(1), "no power of two"),
])
def test_invalid_arguments(call: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()  # type: ignore[operator]


def test_misbehaving_reader_is_a_tree_state_error(store_1000: MemoryStore) -> None:
    with pytest.raises(TreeStateError, match="returned 1 hashes for 2 indexes"):
        tree_hash(3, lambda indexes: [b"\x00" * 32])
    with pytest.raises(TreeStateError, match="stored hash 0 is 31 bytes, expected 32"):
        stored_hashes_for_append(1, b"\x00" * 32, lambda indexes: [b"\x00" * 31])
    assert largest_power_of_two_below(1000) == 512
    assert largest_power_of_two_below(512) == 256
