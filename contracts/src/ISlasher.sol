// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {BLS} from "./BLS.sol";

/// @title Commitment slasher interface (eth-fabric URC shape)
/// @notice The interface a registry calls to judge a signed commitment: the shape of eth-fabric's Universal
/// Registry Contract `ISlasher`, so a slasher written for it can serve a URC registration and this rollup's
/// `Registry` alike. The registry recovers the committer from the commitment signature, refuses repeats, calls
/// `slash` and takes up to the returned amount from the validator's collateral.
/// @dev Spec: docs/slashing.md ("Contracts"), docs/registry.md.
interface ISlasher {
    /// @notice A validator's delegation of its commit rights, as the registry knows it.
    struct Delegation {
        /// The validator (proposer) BLS key; zero in the based `Registry`, which keeps only its hash (see
        /// `metadata`).
        BLS.G1Point proposer;
        /// The delegate's BLS key (URC); zero in the based `Registry` (its delegates are ECDSA committers).
        BLS.G1Point delegate;
        /// The committer the key delegated to (its currently stored committer).
        address committer;
        /// The slot of the delegation message (URC); zero in the based `Registry`.
        uint64 slot;
        /// Registry-specific data; the based `Registry` puts `abi.encode(bytes32 pubkeyHash)` here.
        bytes metadata;
    }

    /// @notice What a committer signs (docs/protocol.md §10.1); digest `keccak256(abi.encode(commitment))`.
    struct Commitment {
        /// Commitment type (1 = inclusion).
        uint64 commitmentType;
        /// Type-specific payload (inclusion: `abi.encode((uint64 slot, bytes signedTx))`).
        bytes payload;
        /// `keccak256(abi.encode(request))` of the request it answers.
        bytes32 requestHash;
        /// The slasher that judges it.
        address slasher;
    }

    /// @notice A commitment with the committer's 65-byte ECDSA signature `r || s || v` (v in {27, 28}).
    struct SignedCommitment {
        /// The commitment.
        Commitment commitment;
        /// `r || s || v` over `keccak256(abi.encode(commitment))`.
        bytes signature;
    }

    /// @notice Judges `commitment`, signed by `committer`, under `delegation`; reverts if it is not slashable
    /// with `evidence`. Called by the registry only.
    /// @param delegation The slashed key's delegation, as the registry built it.
    /// @param commitment The signed commitment.
    /// @param committer The address the registry recovered from the commitment signature.
    /// @param evidence Slasher-specific evidence.
    /// @param challenger Who asked the registry to slash (receives the registry's reward).
    /// @return slashAmountWei Wei of collateral the registry should take.
    function slash(
        Delegation calldata delegation,
        Commitment calldata commitment,
        address committer,
        bytes calldata evidence,
        address challenger
    ) external returns (uint256 slashAmountWei);
}
