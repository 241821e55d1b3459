// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

/// @title Source of the preconfer schedule
/// @notice What the Inbox asks to enforce posting rights: the `Lookahead` (opt-in mode) or the `Whitelist`.
/// @dev Spec: docs/lookahead.md.
interface IPreconferSource {
    /// @notice The L1 slot containing `timestamp`.
    function slotAt(uint256 timestamp) external view returns (uint256 slot);

    /// @notice The preconfer of `slot`: the validator key's `pubkeyHash` (zero in whitelist mode) and the
    /// `committer` allowed to propose; both zero if the slot has no preconfer (then anyone may propose).
    function preconferAt(uint256 slot) external view returns (bytes32 pubkeyHash, address committer);
}
