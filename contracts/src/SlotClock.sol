// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

/// @title L1 slot clock
/// @notice Beacon-chain slot and epoch arithmetic from immutable parameters, so a devnet can use short slots.
/// @dev Spec: docs/lookahead.md ("Slot timing"). `slot(t) = (t - genesisTimestamp) / secondsPerSlot` for
/// `t >= genesisTimestamp` and 0 before; `epoch(s) = s / slotsPerEpoch`; `timestamp(s) = genesisTimestamp +
/// s * secondsPerSlot`.
abstract contract SlotClock {
    /// @notice Timestamp of slot 0 (the beacon genesis time).
    uint256 public immutable genesisTimestamp;
    /// @notice Seconds per slot (12 on mainnet).
    uint256 public immutable secondsPerSlot;
    /// @notice Slots per epoch (32 on mainnet); at most 256.
    uint256 public immutable slotsPerEpoch;

    /// @notice `secondsPerSlot` is zero or `slotsPerEpoch` is not in `1..=256`.
    error InvalidSlotClock();

    constructor(uint256 genesisTimestamp_, uint256 secondsPerSlot_, uint256 slotsPerEpoch_) {
        if (secondsPerSlot_ == 0 || slotsPerEpoch_ == 0 || slotsPerEpoch_ > 256) revert InvalidSlotClock();
        genesisTimestamp = genesisTimestamp_;
        secondsPerSlot = secondsPerSlot_;
        slotsPerEpoch = slotsPerEpoch_;
    }

    /// @notice The slot containing `timestamp` (0 before genesis).
    function slotAt(uint256 timestamp) public view virtual returns (uint256) {
        if (timestamp < genesisTimestamp) return 0;
        return (timestamp - genesisTimestamp) / secondsPerSlot;
    }

    /// @notice The epoch of `slot`.
    function epochOf(uint256 slot) public view returns (uint256) {
        return slot / slotsPerEpoch;
    }

    /// @notice The start timestamp of `slot`.
    function slotTimestamp(uint256 slot) public view returns (uint256) {
        return genesisTimestamp + slot * secondsPerSlot;
    }

    /// @notice The start timestamp of `epoch` (of its first slot).
    function epochTimestamp(uint256 epoch) public view returns (uint256) {
        return slotTimestamp(epoch * slotsPerEpoch);
    }

    /// @notice The slot of the current block.
    function currentSlot() public view returns (uint256) {
        return slotAt(block.timestamp);
    }

    /// @notice The epoch of the current block.
    function currentEpoch() public view returns (uint256) {
        return epochOf(currentSlot());
    }
}
