// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {BLS} from "./BLS.sol";

/// @title SSZ Merkle proofs against a beacon block root
/// @notice Verification of SSZ Merkle branches (SHA-256 precompile) and the roots the lookahead contest needs:
/// the `BeaconBlockHeader` root, a `uint64` out of a packed chunk, and the root of a 48-byte BLS public key.
/// @dev Spec: docs/lookahead.md §5. A generalized index `g` names a node: the root is 1, the children of `g`
/// are `2g` and `2g + 1`; a branch lists the siblings from the leaf up, `floor(log2(g))` of them.
library SSZ {
    /// @notice A beacon block header (its SSZ root is the beacon block root).
    struct BeaconBlockHeader {
        uint64 slot;
        uint64 proposerIndex;
        bytes32 parentRoot;
        bytes32 stateRoot;
        bytes32 bodyRoot;
    }

    /// @dev The SHA-256 precompile.
    address internal constant SHA256 = address(0x02);
    /// @dev The EIP-2537 G1ADD precompile.
    address internal constant G1_ADD = address(0x0b);
    /// @dev `(p - 1) / 2` of the BLS12-381 base field, split like `BLS.Fp`.
    uint256 internal constant HALF_P_HIGH = 0x000000000000000000000000000000000d0088f51cbff34d258dd3db21a5d66b;
    uint256 internal constant HALF_P_LOW = 0xb23ba5c279c2895fb39869507b587b120f55ffff58a9ffffdcff7fffffffd555;

    /// @notice `sha256(a || b)`.
    function hashPair(bytes32 a, bytes32 b) internal pure returns (bytes32) {
        return sha256(abi.encodePacked(a, b));
    }

    /// @notice Whether `branch` proves `leaf` at generalized index `gindex` under `root`.
    function verify(bytes32 root, bytes32 leaf, uint256 gindex, bytes32[] calldata branch)
        internal
        pure
        returns (bool)
    {
        if (gindex == 0 || branch.length != _log2(gindex)) return false;
        bytes32 node = leaf;
        for (uint256 i = 0; i < branch.length; ++i) {
            node = (gindex & 1) == 1 ? hashPair(branch[i], node) : hashPair(node, branch[i]);
            gindex >>= 1;
        }
        return node == root;
    }

    /// @notice The SSZ chunk of a `uint64` (little-endian in the first 8 bytes).
    function uint64Chunk(uint64 v) internal pure returns (bytes32) {
        return bytes32(uint256(_reverse64(v)) << 192);
    }

    /// @notice The `uint64` at position `i` (0..3) of a chunk packing four little-endian `uint64`s.
    function uint64At(bytes32 chunk, uint256 i) internal pure returns (uint64) {
        return _reverse64(uint64(uint256(chunk) >> (192 - 64 * i)));
    }

    /// @notice `hash_tree_root(header)`: five fields padded to eight leaves.
    function headerRoot(BeaconBlockHeader calldata h) internal pure returns (bytes32) {
        bytes32 a = hashPair(uint64Chunk(h.slot), uint64Chunk(h.proposerIndex));
        bytes32 b = hashPair(h.parentRoot, h.stateRoot);
        bytes32 c = hashPair(h.bodyRoot, bytes32(0));
        // sha256(0^64): the root of two zero chunks.
        bytes32 z1 = 0xf5a5fd42d16a20302798ef6ed309979b43003d2320d9f0e8ea9831a92759fb4b;
        return hashPair(hashPair(a, b), hashPair(c, z1));
    }

    /// @notice The SSZ root of the 48-byte compressed encoding of `pk` (`Bytes48`: two chunks, the second
    /// zero-padded), or `ok = false` if `pk` is not a point of the curve (G1ADD rejects it) or is infinity.
    /// @dev Compressed form: `x` big-endian with the top bits `0x80` (compressed) and `0x20` iff
    /// `y > (p - 1) / 2`. For a point on the curve this is a bijection, so the key's identity
    /// `keccak256(abi.encode(pk))` is determined by the proven compressed key.
    function pubkeyRoot(BLS.G1Point calldata pk) internal view returns (bool ok, bytes32 root) {
        BLS.G1Point memory p = pk;
        if (BLS.isInfinity(p)) return (false, bytes32(0));
        BLS.G1Point memory zero;
        (bool success, bytes memory out) = G1_ADD.staticcall{gas: 10_000}(abi.encode(p, zero));
        if (!success || out.length != 128) return (false, bytes32(0));
        bool large = p.y.a > HALF_P_HIGH || (p.y.a == HALF_P_HIGH && p.y.b > HALF_P_LOW);
        uint256 flags = large ? 0xa0 : 0x80;
        uint256 c0 = (p.x.a << 128) | (p.x.b >> 128) | (flags << 248);
        uint256 c1 = p.x.b << 128;
        return (true, hashPair(bytes32(c0), bytes32(c1)));
    }

    /// @dev `floor(log2(x))` for `x > 0`.
    function _log2(uint256 x) private pure returns (uint256 n) {
        while (x > 1) {
            x >>= 1;
            ++n;
        }
    }

    /// @dev Byte order reversal of a `uint64`.
    function _reverse64(uint64 v) private pure returns (uint64 r) {
        for (uint256 i = 0; i < 8; ++i) {
            r = (r << 8) | (v & 0xff);
            v >>= 8;
        }
    }
}
