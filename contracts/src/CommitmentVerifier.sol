// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

/// @title Commitment signature recovery (docs/protocol.md §10.1)
/// @notice Recovers the committer of a gateway's `SignedCommitment` exactly as URC's
/// `slashCommitment` does: `ecrecover(keccak256(abi.encode(commitment)), v, r, s)`, refusing
/// malleable (high-s) signatures. The slasher reuses this; the Rust tests check that what the gateway
/// signs recovers here to its committer.
contract CommitmentVerifier {
    /// @notice The commitment a gateway signs (eth-fabric Commitments API field order).
    struct Commitment {
        uint64 commitmentType;
        bytes payload;
        bytes32 requestHash;
        address slasher;
    }

    /// @notice A user's request.
    struct CommitmentRequest {
        uint64 commitmentType;
        bytes payload;
        address slasher;
    }

    /// @notice The signature is not 65 bytes `r || s || v`.
    error InvalidSignatureLength();
    /// @notice `s` is in the upper half of the curve order (malleable).
    error InvalidSignatureS();
    /// @notice `ecrecover` found no signer.
    error InvalidSignature();

    uint256 private constant HALF_N = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0;

    /// @notice `keccak256(abi.encode(commitment))`: the digest the committer signs.
    function digest(Commitment calldata commitment) public pure returns (bytes32) {
        return keccak256(abi.encode(commitment));
    }

    /// @notice `keccak256(abi.encode(request))`: binds a commitment to its request.
    function requestHash(CommitmentRequest calldata request) external pure returns (bytes32) {
        return keccak256(abi.encode(request));
    }

    /// @notice The address that signed `commitment` (`signature` = r || s || v, v in {27, 28}).
    function recover(Commitment calldata commitment, bytes calldata signature) external pure returns (address) {
        if (signature.length != 65) revert InvalidSignatureLength();
        bytes32 r = bytes32(signature[0:32]);
        bytes32 s = bytes32(signature[32:64]);
        uint8 v = uint8(signature[64]);
        if (uint256(s) > HALF_N) revert InvalidSignatureS();
        address signer = ecrecover(digest(commitment), v, r, s);
        if (signer == address(0)) revert InvalidSignature();
        return signer;
    }
}
