// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {IPreconferSource} from "./IPreconferSource.sol";
import {SlotClock} from "./SlotClock.sol";

/// @title based preconfer whitelist
/// @notice Whitelist mode of the posting rights: a fixed operator set rotating per epoch (as Taiko's
/// PreconfWhitelist, without its owner-managed updates): the preconfer of every slot of epoch `e` is
/// `operators[e % operators.length]`.
/// @dev Spec: docs/lookahead.md ("Modes"). Immutable: a new set is a new deployment (and Inbox).
contract Whitelist is SlotClock, IPreconferSource {
    address[] private operators;

    /// @notice The operator set, fixed at deployment.
    event WhitelistCreated(address[] operators);

    /// @notice The set is empty or contains the zero address.
    error InvalidOperators();

    constructor(address[] memory operators_, uint64 genesisTimestamp_, uint64 secondsPerSlot_, uint64 slotsPerEpoch_)
        SlotClock(genesisTimestamp_, secondsPerSlot_, slotsPerEpoch_)
    {
        if (operators_.length == 0) revert InvalidOperators();
        for (uint256 i = 0; i < operators_.length; ++i) {
            if (operators_[i] == address(0)) revert InvalidOperators();
        }
        operators = operators_;
        emit WhitelistCreated(operators_);
    }

    /// @inheritdoc IPreconferSource
    function slotAt(uint256 timestamp) public view override(SlotClock, IPreconferSource) returns (uint256) {
        return SlotClock.slotAt(timestamp);
    }

    /// @inheritdoc IPreconferSource
    /// @dev `pubkeyHash` is always zero; the committer is `operators[epochOf(slot) % operators.length]`.
    function preconferAt(uint256 slot) external view returns (bytes32 pubkeyHash, address committer) {
        return (bytes32(0), operators[epochOf(slot) % operators.length]);
    }

    /// @notice The operator set.
    function getOperators() external view returns (address[] memory) {
        return operators;
    }
}
