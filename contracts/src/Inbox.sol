// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

/// @title based L1 Inbox
/// @notice The only L1 contract of the based rollup (protocol v0). It binds proposals (EIP-4844 blobs that
/// carry L2 batches), queues ETH deposits to L2 and queues forced-inclusion transactions. Every node derives
/// the L2 chain from the events below, in L1 inclusion order; the contract keeps no other state than the
/// three sequence counters. Permissionless: anyone may propose, deposit or force-include.
/// @dev The event signatures are consensus-critical (see docs/protocol.md, section 6). ETH sent to this
/// contract stays locked here in v0 (there is no withdrawal path yet).
contract Inbox {
    /// @notice Minimum fee (wei) paid with `forceInclude`.
    uint256 public constant FORCED_INCLUSION_FEE = 0.001 ether;
    /// @notice Maximum size (bytes) of a forced-inclusion transaction.
    uint256 public constant MAX_FORCED_TX_SIZE = 8192;
    /// @notice Deposits are made in whole gwei (the L2 credits them as EIP-4895 withdrawals, in gwei).
    uint256 public constant DEPOSIT_UNIT = 1 gwei;
    /// @notice Largest deposit: the gwei amount must fit into a uint64.
    uint256 public constant MAX_DEPOSIT = uint256(type(uint64).max) * 1 gwei;

    /// @notice Id of the next proposal (ids start at 0).
    uint256 public nextProposalId;
    /// @notice Id of the next deposit (ids start at 0).
    uint256 public nextDepositId;
    /// @notice Id of the next forced-inclusion transaction (ids start at 0).
    uint256 public nextForcedInclusionId;

    /// @notice A proposal: the versioned hashes of all blobs of the calling blob transaction, in order.
    event Proposed(uint256 indexed id, address indexed proposer, bytes32[] blobHashes);
    /// @notice A deposit of `amount` wei (a multiple of 1 gwei) from `from` on L1 to `to` on L2.
    event Deposited(uint256 indexed id, address indexed from, address indexed to, uint256 amount);
    /// @notice A forced-inclusion transaction (EIP-2718 encoded, signed), queued by `sender`.
    event ForcedInclusionQueued(uint256 indexed id, address indexed sender, bytes signedTx);

    /// @notice `propose` was called without blobs.
    error NoBlobs();
    /// @notice The deposit is zero, not a multiple of 1 gwei, or larger than MAX_DEPOSIT.
    error InvalidDepositAmount();
    /// @notice The forced-inclusion fee is below FORCED_INCLUSION_FEE.
    error InsufficientFee();
    /// @notice The forced-inclusion transaction is empty or larger than MAX_FORCED_TX_SIZE.
    error InvalidTxSize();

    /// @notice Bind the blobs of the current (type-3) transaction as one proposal.
    /// @dev Reads blobhash(i) for i = 0, 1, ... until it returns zero. The batch (including the L1 anchor)
    /// lives inside the blobs; this call only records their versioned hashes in the event.
    /// @return id The proposal id.
    function propose() external returns (uint256 id) {
        uint256 count = 0;
        while (blobhash(count) != bytes32(0)) {
            unchecked {
                ++count;
            }
        }
        if (count == 0) revert NoBlobs();
        bytes32[] memory hashes = new bytes32[](count);
        for (uint256 i = 0; i < count; ++i) {
            hashes[i] = blobhash(i);
        }
        id = nextProposalId++;
        emit Proposed(id, msg.sender, hashes);
    }

    /// @notice Deposit `msg.value` wei to `to` on L2.
    /// @return id The deposit id.
    function deposit(address to) external payable returns (uint256 id) {
        if (msg.value == 0 || msg.value % DEPOSIT_UNIT != 0 || msg.value > MAX_DEPOSIT) {
            revert InvalidDepositAmount();
        }
        id = nextDepositId++;
        emit Deposited(id, msg.sender, to, msg.value);
    }

    /// @notice Queue a signed L2 transaction that proposers must include within the forced-inclusion window.
    /// @dev The payload is not validated here (the L2 skips it if invalid at its position); only its size is.
    /// @return id The forced-inclusion id.
    function forceInclude(bytes calldata signedTx) external payable returns (uint256 id) {
        if (msg.value < FORCED_INCLUSION_FEE) revert InsufficientFee();
        if (signedTx.length == 0 || signedTx.length > MAX_FORCED_TX_SIZE) revert InvalidTxSize();
        id = nextForcedInclusionId++;
        emit ForcedInclusionQueued(id, msg.sender, signedTx);
    }
}
