"""RFC 9162 Merkle tree hashing and the stored-hash layout of the audit log's tree.

Leaves are hashed as ``SHA-256(0x00 || entry)`` and interior nodes as
``SHA-256(0x01 || left || right)`` (RFC 9162 §2.1.1). The tree state is kept as every
*complete* subtree hash, addressed by ``(level, index)`` and laid out linearly in the order
they become complete (Crosby & Wallach, "Efficient Data Structures for Tamper-Evident
Logging", §3.3; the same layout as golang.org/x/mod/sumdb/tlog). Appending a leaf writes
``1 + trailing_ones(n)`` hashes, and any root or proof needs at most ``O(log n)`` of them.

Storage is not touched here: callers pass ``read_hashes``, a function from a list of stored
hash indexes to the hashes at those indexes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

from connector.audit.errors import TreeStateError

HASH_SIZE = 32
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
EMPTY_ROOT = hashlib.sha256(b"").digest()

ReadHashes = Callable[[list[int]], list[bytes]]
"""Returns the stored hashes at the given stored-hash indexes, in the same order."""


def leaf_hash(entry: bytes) -> bytes:
    """Return the RFC 9162 leaf hash ``SHA-256(0x00 || entry)``."""
    return hashlib.sha256(LEAF_PREFIX + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return the RFC 9162 interior node hash ``SHA-256(0x01 || left || right)``."""
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def largest_power_of_two_below(n: int) -> int:
    """Return the largest power of two strictly smaller than ``n`` (RFC 9162's ``k``), n > 1."""
    if n < 2:
        raise ValueError(f"no power of two below {n} splits a tree")
    return 1 << ((n - 1).bit_length() - 1)


def root_from_leaves(leaf_hashes: Sequence[bytes]) -> bytes:
    """Return the RFC 9162 Merkle tree hash (MTH) over ``leaf_hashes``.

    The empty tree hashes to ``SHA-256("")``. Runs in O(n) time and O(log n) memory by
    keeping the roots of the perfect subtrees seen so far (a compact range).
    """
    stack: list[tuple[int, bytes]] = []  # (subtree size, hash), sizes strictly decreasing
    for h in leaf_hashes:
        size, node = 1, h
        while stack and stack[-1][0] == size:
            left_size, left = stack.pop()
            size, node = left_size + size, node_hash(left, node)
        stack.append((size, node))
    if not stack:
        return EMPTY_ROOT
    root = stack[-1][1]
    for _, left in reversed(stack[:-1]):
        root = node_hash(left, root)
    return root


def stored_hash_index(level: int, n: int) -> int:
    """Map the tree coordinate ``(level, n)`` to its position in the linear hash storage.

    ``(level, n)`` is the root of the perfect subtree over leaves
    ``[n * 2**level, (n + 1) * 2**level)``. It is stored right after ``(level - 1, 2n + 1)``,
    the hash that completes it.
    """
    if level < 0 or n < 0:
        raise ValueError(f"invalid tree coordinate ({level}, {n})")
    # The last leaf under (level, n), whose append completes this subtree.
    leaf = ((n + 1) << level) - 1
    # Leaf m is stored at m + m//2 + m//4 + ... = 2m - popcount(m): every earlier leaf k
    # wrote itself plus one hash per subtree it completed.
    return 2 * leaf - leaf.bit_count() + level


def split_stored_hash_index(index: int) -> tuple[int, int]:
    """Invert :func:`stored_hash_index`: return the ``(level, n)`` stored at ``index``."""
    if index < 0:
        raise ValueError(f"invalid stored hash index {index}")
    # stored_hash_index(0, m) = 2m - popcount(m), so the leaf that wrote ``index`` lies in
    # [index // 2, index // 2 + log2(index)]: start low and walk forward.
    m = index // 2
    at = stored_hash_index(0, m)
    while True:
        following = at + 1 + _trailing_ones(m)
        if following > index:
            break
        m, at = m + 1, following
    level = index - at
    return level, m >> level


def stored_hash_count(size: int) -> int:
    """Return how many stored hashes a tree with ``size`` leaves has."""
    if size < 0:
        raise ValueError(f"invalid tree size {size}")
    if size == 0:
        return 0
    return stored_hash_index(0, size - 1) + 1 + _trailing_ones(size - 1)


def stored_hashes_for_append(n: int, leaf_hash: bytes, read_hashes: ReadHashes) -> list[bytes]:
    """Return the hashes to store when appending leaf number ``n`` (0-based) with ``leaf_hash``.

    They belong at stored indexes ``stored_hash_index(0, n)`` onwards: the leaf hash, then
    the root of every subtree this leaf completes, lowest first. Reads one hash per
    completed subtree (its left sibling) in a single ``read_hashes`` call.
    """
    if n < 0:
        raise ValueError(f"invalid leaf index {n}")
    _check_hash("leaf hash", leaf_hash)
    completed = _trailing_ones(n)
    # Left siblings of the subtrees completed by this leaf, in increasing index order.
    indexes = [stored_hash_index(level, (n >> level) - 1) for level in reversed(range(completed))]
    siblings = read_stored(read_hashes, indexes)
    hashes = [leaf_hash]
    node = leaf_hash
    for sibling in reversed(siblings):
        node = node_hash(sibling, node)
        hashes.append(node)
    return hashes


def tree_hash(size: int, read_hashes: ReadHashes) -> bytes:
    """Return the root hash of the tree's first ``size`` leaves from its stored hashes.

    Makes at most one ``read_hashes`` call, for at most ``1 + log2(size)`` hashes.
    """
    if size < 0:
        raise ValueError(f"invalid tree size {size}")
    if size == 0:
        return EMPTY_ROOT
    indexes = stored_subtree_indexes(0, size)
    return fold_stored_subtree(read_stored(read_hashes, indexes))


def stored_subtree_indexes(lo: int, hi: int) -> list[int]:
    """Return the stored indexes whose hashes make up the subtree over leaves ``[lo, hi)``.

    The range is split, left to right, into the largest aligned perfect subtrees, which
    are the ones this tree stores. ``lo`` must be aligned as RFC 9162 splits align it.
    """
    if not 0 <= lo < hi:
        raise ValueError(f"invalid leaf range [{lo}, {hi})")
    indexes = []
    while lo < hi:
        # Largest power of two not above the remaining width.
        level = (hi - lo).bit_length() - 1
        if lo & ((1 << level) - 1):
            raise ValueError(f"leaf range [{lo}, {hi}) is not aligned to a subtree")
        indexes.append(stored_hash_index(level, lo >> level))
        lo += 1 << level
    return indexes


def fold_stored_subtree(hashes: Sequence[bytes]) -> bytes:
    """Combine the hashes read for :func:`stored_subtree_indexes` into the subtree's hash."""
    if not hashes:
        raise ValueError("a non-empty subtree has at least one stored hash")
    node = hashes[-1]
    for left in reversed(hashes[:-1]):
        node = node_hash(left, node)
    return node


def read_stored(read_hashes: ReadHashes, indexes: list[int]) -> list[bytes]:
    """Call ``read_hashes`` and check it returned one 32-byte hash per requested index."""
    if not indexes:
        return []
    hashes = read_hashes(indexes)
    if len(hashes) != len(indexes):
        raise TreeStateError(
            f"read_hashes returned {len(hashes)} hashes for {len(indexes)} indexes")
    for index, h in zip(indexes, hashes, strict=True):
        if len(h) != HASH_SIZE:
            raise TreeStateError(
                f"stored hash {index} is {len(h)} bytes, expected {HASH_SIZE}")
    return hashes


def _check_hash(what: str, h: bytes) -> None:
    if len(h) != HASH_SIZE:
        raise ValueError(f"{what} is {len(h)} bytes, expected {HASH_SIZE}")


def _trailing_ones(n: int) -> int:
    return ((n ^ (n + 1)).bit_length()) - 1
