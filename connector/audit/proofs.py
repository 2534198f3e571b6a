"""RFC 9162 inclusion and consistency proofs: building from stored hashes, and verifying.

Building follows the recursive definitions (PATH, §2.1.3.1; SUBPROOF, §2.1.4.1) as a list of
leaf ranges whose subtree hashes form the proof, then reads all of them from the stored tree
state in one ``read_hashes`` call (``O(log n)`` hashes). Verifying follows the iterative
algorithms of §2.1.3.2 and §2.1.4.2, a separate derivation, so a bug in one side shows up
against the other in the tests. Proof hashes are in RFC order: nearest the leaf first.

Checks return ``None`` or raise :class:`ProofError` naming what failed.
"""

from __future__ import annotations

from collections.abc import Sequence

from connector.audit.errors import ProofError
from connector.audit.hashing import (
    HASH_SIZE,
    ReadHashes,
    fold_stored_subtree,
    largest_power_of_two_below,
    node_hash,
    read_stored,
    stored_subtree_indexes,
)


def inclusion_proof(index: int, size: int, read_hashes: ReadHashes) -> list[bytes]:
    """Return the inclusion proof (audit path) of leaf ``index`` in the tree of ``size`` leaves.

    ``read_hashes`` reads the stored tree state (see :mod:`connector.audit.hashing`); ``size``
    may be any size the log has had, not just the current one.
    """
    _check_index(index, size)
    return _read_ranges(_inclusion_ranges(index, size), read_hashes)


def consistency_proof(size1: int, size2: int, read_hashes: ReadHashes) -> list[bytes]:
    """Return the consistency proof from the tree of ``size1`` leaves to that of ``size2``.

    Requires ``0 < size1 <= size2``; equal sizes give the empty proof.
    """
    _check_sizes(size1, size2)
    return _read_ranges(_consistency_ranges(size1, size2), read_hashes)


def inclusion_proof_length(index: int, size: int) -> int:
    """Return how many hashes the inclusion proof of leaf ``index`` in a tree of ``size`` has."""
    _check_index(index, size)
    # Levels below the point where the paths to ``index`` and to the last leaf part, plus one
    # left sibling for every level above it where the path turns right.
    inner = (index ^ (size - 1)).bit_length()
    return inner + (index >> inner).bit_count()


def consistency_proof_length(size1: int, size2: int) -> int:
    """Return how many hashes the consistency proof from ``size1`` to ``size2`` leaves has."""
    _check_sizes(size1, size2)
    if size1 == size2:
        return 0
    # The inclusion path of the old tree's last leaf, starting from the largest perfect
    # subtree that ends it; that subtree's hash is sent unless it is the whole old tree.
    shift = (size1 & -size1).bit_length() - 1
    inner = ((size1 - 1) ^ (size2 - 1)).bit_length() - shift
    border = ((size1 - 1) >> (inner + shift)).bit_count()
    seed = 0 if size1 == 1 << shift else 1
    return seed + inner + border


def verify_inclusion(leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes],
                     root: bytes) -> None:
    """Check that ``proof`` shows leaf ``index`` with ``leaf_hash`` is in the tree ``root``.

    Implements RFC 9162 §2.1.3.2. Returns ``None``; raises :class:`ProofError` otherwise.
    """
    _check_hash("leaf hash", leaf_hash)
    _check_hash("root hash", root)
    _check_proof_hashes(proof)
    _check_index(index, size)
    want = inclusion_proof_length(index, size)
    if len(proof) != want:
        raise ProofError(f"inclusion proof for leaf {index} in a tree of size {size} has "
                         f"{len(proof)} hashes, expected {want}")
    fn, sn, r = index, size - 1, leaf_hash
    for p in proof:
        if sn == 0:
            raise ProofError("inclusion proof is longer than the path to the root")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("inclusion proof is shorter than the path to the root")
    if r != root:
        raise ProofError(f"inclusion proof for leaf {index} does not lead to the root hash "
                         f"of the tree of size {size}")


def verify_consistency(size1: int, size2: int, proof: Sequence[bytes], root1: bytes,
                       root2: bytes) -> None:
    """Check that ``proof`` shows the tree ``root2`` of ``size2`` extends ``root1`` of ``size1``.

    Implements RFC 9162 §2.1.4.2, plus equal sizes (empty proof, equal roots). A proof from
    the empty tree is rejected: it would prove nothing. Returns ``None`` or raises
    :class:`ProofError`.
    """
    _check_hash("first root hash", root1)
    _check_hash("second root hash", root2)
    _check_proof_hashes(proof)
    _check_sizes(size1, size2)
    if size1 == size2:
        if proof:
            raise ProofError(f"consistency proof between equal sizes {size1} must be empty, "
                             f"got {len(proof)} hashes")
        if root1 != root2:
            raise ProofError(f"trees of the same size {size1} have different root hashes")
        return
    want = consistency_proof_length(size1, size2)
    if len(proof) != want:
        raise ProofError(f"consistency proof from size {size1} to {size2} has {len(proof)} "
                         f"hashes, expected {want}")
    path = list(proof)
    if size1 & (size1 - 1) == 0:
        path.insert(0, root1)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("consistency proof is longer than the path to the root")
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("consistency proof is shorter than the path to the root")
    if fr != root1:
        raise ProofError(f"consistency proof does not lead to the root hash of the tree of "
                         f"size {size1}")
    if sr != root2:
        raise ProofError(f"consistency proof does not lead to the root hash of the tree of "
                         f"size {size2}")


def _inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    # PATH(m, D[lo:hi]): walk down towards the leaf, recording the sibling not taken.
    ranges = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = largest_power_of_two_below(hi - lo)
        if index < lo + k:
            ranges.append((lo + k, hi))
            hi = lo + k
        else:
            ranges.append((lo, lo + k))
            lo += k
    ranges.reverse()
    return ranges


def _consistency_ranges(size1: int, size2: int) -> list[tuple[int, int]]:
    # SUBPROOF(m, D[lo:hi], b) with b == (lo == 0): the old tree's hash is known to the
    # verifier only when the subtree reached is the whole old tree.
    ranges = []
    lo, hi = 0, size2
    while size1 != hi:
        k = largest_power_of_two_below(hi - lo)
        if size1 <= lo + k:
            ranges.append((lo + k, hi))
            hi = lo + k
        else:
            ranges.append((lo, lo + k))
            lo += k
    if lo != 0:
        ranges.append((lo, hi))
    ranges.reverse()
    return ranges


def _read_ranges(ranges: list[tuple[int, int]], read_hashes: ReadHashes) -> list[bytes]:
    groups = [stored_subtree_indexes(lo, hi) for lo, hi in ranges]
    hashes = read_stored(read_hashes, [i for group in groups for i in group])
    proof = []
    at = 0
    for group in groups:
        proof.append(fold_stored_subtree(hashes[at:at + len(group)]))
        at += len(group)
    return proof


def _check_index(index: int, size: int) -> None:
    if size < 0 or index < 0:
        raise ProofError(f"leaf index {index} and tree size {size} must not be negative")
    if index >= size:
        raise ProofError(f"leaf index {index} is not below tree size {size}")


def _check_sizes(size1: int, size2: int) -> None:
    if size1 < 0 or size2 < 0:
        raise ProofError(f"tree sizes {size1} and {size2} must not be negative")
    if size1 > size2:
        raise ProofError(f"first tree size {size1} is larger than second tree size {size2}")
    if size1 == 0:
        raise ProofError("a consistency proof from the empty tree proves nothing")


def _check_hash(what: str, h: bytes) -> None:
    if len(h) != HASH_SIZE:
        raise ProofError(f"{what} is {len(h)} bytes, expected {HASH_SIZE}")


def _check_proof_hashes(proof: Sequence[bytes]) -> None:
    for i, h in enumerate(proof):
        _check_hash(f"proof hash {i}", h)
