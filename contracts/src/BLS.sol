// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

/// @title BLS12-381 signature verification with the EIP-2537 precompiles
/// @notice Minimal-pubkey-size BLS (public keys in G1, signatures in G2), as Ethereum validators use.
/// Messages are hashed to G2 per RFC 9380 (suite BLS12381G2_XMD:SHA-256_SSWU_RO_) with the DST below.
/// @dev Encodings are the EIP-2537 ones: an Fp element is 64 bytes big-endian (the top 16 bytes zero),
/// here held as two words `(a, b)` = (high 32 bytes, low 32 bytes); an Fp2 element `c0 + c1 * u` is `c0 || c1`;
/// a G1 point is `x || y` (128 bytes), a G2 point `x || y` (256 bytes); the point at infinity is all zeros.
/// `abi.encode` of these static structs is exactly the precompile byte layout.
library BLS {
    /// @notice An element of the base field Fp: `a` holds the high 16 bytes (left-padded), `b` the low 32.
    struct Fp {
        uint256 a;
        uint256 b;
    }

    /// @notice An element `c0 + c1 * u` of Fp2.
    struct Fp2 {
        Fp c0;
        Fp c1;
    }

    /// @notice An affine G1 point (public key).
    struct G1Point {
        Fp x;
        Fp y;
    }

    /// @notice An affine G2 point (signature, message point).
    struct G2Point {
        Fp2 x;
        Fp2 y;
    }

    /// @notice Domain separation tag of the hash to G2: Ethereum's consensus-layer BLS ciphersuite.
    bytes internal constant DST = "BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_";

    /// @dev EIP-2537 precompiles and the modexp precompile (EIP-198).
    address internal constant MODEXP = address(0x05);
    address internal constant G2_ADD = address(0x0d);
    address internal constant PAIRING_CHECK = address(0x0f);
    address internal constant MAP_FP2_TO_G2 = address(0x11);

    /// @dev The base field modulus p, split like `Fp`.
    uint256 internal constant P_HIGH = 0x000000000000000000000000000000001a0111ea397fe69a4b1ba7b6434bacd7;
    uint256 internal constant P_LOW = 0x64774b84f38512bf6730d2a0f6b0f6241eabfffeb153ffffb9feffffffffaaab;

    /// @notice A precompile call that cannot fail on valid input failed.
    error PrecompileFailed(address precompile);

    /// @notice The negated G1 generator `-g1`, so that `e(pk, H(m)) == e(g1, sig)` becomes the single
    /// product check `e(pk, H(m)) * e(-g1, sig) == 1` of the pairing precompile.
    function negG1Generator() internal pure returns (G1Point memory) {
        return G1Point({
            x: Fp(
                0x17f1d3a73197d7942695638c4fa9ac0f,
                0xc3688c4f9774b905a14e3a3f171bac586c55e83ff97a1aeffb3af00adb22c6bb
            ),
            y: Fp(
                0x114d1d6855d545a8aa7d76c8cf2e21f2,
                0x67816aef1db507c96655b9d5caac42364e6f38ba0ecb751bad54dcd6b939c2ca
            )
        });
    }

    /// @notice Whether `p` is the all-zero encoding (the point at infinity).
    function isInfinity(G1Point memory p) internal pure returns (bool) {
        return p.x.a == 0 && p.x.b == 0 && p.y.a == 0 && p.y.b == 0;
    }

    /// @notice Verifies the BLS signature `sig` of `message` under `pubkey`.
    /// @dev Returns false (never reverts) for a wrong signature. Encodings that the pairing precompile rejects
    /// (a coordinate >= p, a point off the curve or outside the prime-order subgroup) also give false; such a
    /// failing precompile call consumes the gas forwarded to it (EIP-2537). The caller must reject the
    /// infinity public key, for which any message would verify against the infinity signature.
    function verify(G1Point memory pubkey, G2Point memory sig, bytes memory message) internal view returns (bool) {
        G2Point memory h = hashToG2(message);
        (bool ok, bytes memory out) = PAIRING_CHECK.staticcall(abi.encode(pubkey, h, negG1Generator(), sig));
        if (!ok || out.length != 32) return false;
        return abi.decode(out, (uint256)) == 1;
    }

    /// @notice RFC 9380 `hash_to_curve` into G2 with `DST`: two field elements, each mapped with
    /// MAP_FP2_TO_G2 (which also clears the cofactor), then added with G2ADD.
    function hashToG2(bytes memory message) internal view returns (G2Point memory) {
        bytes32[8] memory uniform = expandMessageXmd(message);
        Fp2 memory u0 = Fp2(reduce(uniform[0], uniform[1]), reduce(uniform[2], uniform[3]));
        Fp2 memory u1 = Fp2(reduce(uniform[4], uniform[5]), reduce(uniform[6], uniform[7]));
        return g2Add(mapToG2(u0), mapToG2(u1));
    }

    /// @notice RFC 9380 section 5.3.1 `expand_message_xmd` with SHA-256 and `len_in_bytes = 256`
    /// (2 field elements of Fp2, 2 coefficients each, L = 64 bytes per coefficient).
    function expandMessageXmd(bytes memory message) internal pure returns (bytes32[8] memory b) {
        bytes memory dstPrime = bytes.concat(DST, bytes1(uint8(DST.length)));
        // msg_prime = Z_pad (64 zero bytes) || msg || I2OSP(256, 2) || I2OSP(0, 1) || DST_prime
        bytes32 b0 = sha256(bytes.concat(bytes32(0), bytes32(0), message, hex"010000", dstPrime));
        b[0] = sha256(bytes.concat(b0, hex"01", dstPrime));
        for (uint256 i = 1; i < 8; ++i) {
            b[i] = sha256(bytes.concat(b0 ^ b[i - 1], bytes1(uint8(i + 1)), dstPrime));
        }
    }

    /// @notice `OS2IP(hi || lo) mod p` with the modexp precompile (exponent 1).
    function reduce(bytes32 hi, bytes32 lo) internal view returns (Fp memory) {
        (bool ok, bytes memory out) =
            MODEXP.staticcall(abi.encode(uint256(64), uint256(32), uint256(64), hi, lo, uint256(1), P_HIGH, P_LOW));
        if (!ok || out.length != 64) revert PrecompileFailed(MODEXP);
        return abi.decode(out, (Fp));
    }

    /// @notice MAP_FP2_TO_G2 (EIP-2537): SSWU map of `u` to the curve, then cofactor clearing.
    function mapToG2(Fp2 memory u) internal view returns (G2Point memory) {
        (bool ok, bytes memory out) = MAP_FP2_TO_G2.staticcall(abi.encode(u));
        if (!ok || out.length != 256) revert PrecompileFailed(MAP_FP2_TO_G2);
        return abi.decode(out, (G2Point));
    }

    /// @notice G2ADD (EIP-2537).
    function g2Add(G2Point memory p, G2Point memory q) internal view returns (G2Point memory) {
        (bool ok, bytes memory out) = G2_ADD.staticcall(abi.encode(p, q));
        if (!ok || out.length != 256) revert PrecompileFailed(G2_ADD);
        return abi.decode(out, (G2Point));
    }
}
