// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {IPreconferSource} from "./IPreconferSource.sol";

/// @title based L1 Inbox
/// @notice The only L1 contract of the based rollup (protocol v0). It binds proposals (EIP-4844 blobs that
/// carry L2 batches), queues ETH deposits to L2 and queues forced-inclusion transactions. Every node derives
/// the L2 chain from the events below, in L1 inclusion order. Anyone may deposit or force-include. Who may
/// propose depends on the deployment `Config`: anyone (permissionless, `preconferSource == 0`), or in slot `s`
/// only the committer of `s`'s preconfer (if `s` has one), with an escape hatch that reopens `propose` to
/// anyone when forced-inclusion transactions are overdue or no proposal landed for too long.
/// @dev The event signatures are consensus-critical (see docs/protocol.md, section 6); posting rights are not
/// (derivation reads only successful proposals). Spec of the rights: docs/lookahead.md. ETH sent to this
/// contract stays locked here in v0 (there is no withdrawal path yet).
contract Inbox {
    /// @notice Deployment parameters (immutable). All zero = permissionless (the v0 behaviour).
    struct Config {
        /// Preconfer schedule (`Lookahead` or `Whitelist`); zero = permissionless.
        address preconferSource;
        /// L1 blocks after which a queued forced transaction is due: must equal the chain's
        /// FORCED_INCLUSION_WINDOW (docs/protocol.md section 6.3).
        uint64 forcedInclusionWindow;
        /// L1 blocks a forced transaction may stay unserved after it is due before `propose` opens to anyone.
        uint64 forcedEscapeWindow;
        /// L1 blocks without a successful proposal after which `propose` opens to anyone (> 0).
        uint64 maxProposalGap;
    }

    /// @notice Minimum fee (wei) paid with `forceInclude`.
    uint256 public constant FORCED_INCLUSION_FEE = 0.001 ether;
    /// @notice Most forced transactions one `propose` marks as served. Bounds the gas of `propose` however many
    /// requests are queued (an attacker paying FORCED_INCLUSION_FEE for tens of thousands of them must not be
    /// able to push `propose` over the block gas limit). If more are due, the pointer lags derivation, which
    /// can only open the escape hatch early: harmless.
    uint256 public constant MAX_SERVED_PER_PROPOSAL = 256;
    /// @notice Maximum size (bytes) of a forced-inclusion transaction.
    uint256 public constant MAX_FORCED_TX_SIZE = 8192;
    /// @notice Deposits are made in whole gwei (the L2 credits them as EIP-4895 withdrawals, in gwei).
    uint256 public constant DEPOSIT_UNIT = 1 gwei;
    /// @notice Largest deposit: the gwei amount must fit into a uint64.
    uint256 public constant MAX_DEPOSIT = uint256(type(uint64).max) * 1 gwei;
    /// @notice Most promised transactions one `proposePromised` may carry.
    uint256 public constant MAX_PROMISED_TXS = 1024;
    /// @notice Maximum size (bytes) of one promised transaction.
    uint256 public constant MAX_PROMISED_TX_SIZE = 131072;

    /// @notice What L1 keeps of a proposal's promised transactions (docs/protocol.md section 11): the slasher
    /// opens it to check that a promised transaction was included.
    struct PromisedRecord {
        /// Merkle root of the transaction hashes `keccak256(tx_i)` in order (`promisedRoot`).
        bytes32 root;
        /// Timestamp of the L1 block that included the proposal (zero = no record).
        uint64 timestamp;
        /// Number of promised transactions.
        uint32 count;
    }

    /// @notice Id of the next proposal (ids start at 0).
    uint256 public nextProposalId;
    /// @notice Id of the next deposit (ids start at 0).
    uint256 public nextDepositId;
    /// @notice Id of the next forced-inclusion transaction (ids start at 0).
    uint256 public nextForcedInclusionId;

    /// @notice See `Config.preconferSource` (zero = permissionless).
    IPreconferSource public immutable preconferSource;
    /// @notice See `Config.forcedInclusionWindow`.
    uint64 public immutable forcedInclusionWindow;
    /// @notice See `Config.forcedEscapeWindow`.
    uint64 public immutable forcedEscapeWindow;
    /// @notice See `Config.maxProposalGap`.
    uint64 public immutable maxProposalGap;

    /// @notice Block number of the last successful proposal (deployment block before the first); kept only
    /// with a preconfer source.
    uint64 public lastProposalBlock;
    /// @notice Id of the oldest forced transaction not yet served by a proposal (every id below it was due at
    /// some successful proposal); kept only with a preconfer source.
    uint64 public nextUnservedForcedId;
    /// @notice Block number in which forced transaction `id` was queued; kept only with a preconfer source.
    mapping(uint256 id => uint256 blockNumber) public forcedQueuedAt;
    /// @notice The promised transactions of proposal `id` (all zero if it carried none).
    mapping(uint256 id => PromisedRecord) private promisedRecords;

    /// @notice A proposal: the versioned hashes of all blobs of the calling blob transaction, in order.
    event Proposed(uint256 indexed id, address indexed proposer, bytes32[] blobHashes);
    /// @notice The promised transactions of proposal `id` (EIP-2718 encoded, signed), emitted right after its
    /// `Proposed`: derivation includes them, in order, after the due forced transactions and before the batch's
    /// own transactions in the first L2 block the proposal derives (docs/protocol.md section 7.3).
    event Promised(uint256 indexed id, bytes32 root, bytes[] txs);
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
    /// @notice `slot` has a preconfer and the caller is not its `committer` (and the escape hatch is closed).
    error NotPreconfer(uint256 slot, address committer);
    /// @notice `proposePromised` without transactions, with more than MAX_PROMISED_TXS, or one of them empty or
    /// larger than MAX_PROMISED_TX_SIZE.
    error InvalidPromisedTxs();
    /// @notice A preconfer source without code, or with `maxProposalGap == 0`.
    error InvalidConfig();

    constructor(Config memory config) {
        if (config.preconferSource != address(0)) {
            if (config.preconferSource.code.length == 0 || config.maxProposalGap == 0) revert InvalidConfig();
            lastProposalBlock = uint64(block.number);
        }
        preconferSource = IPreconferSource(config.preconferSource);
        forcedInclusionWindow = config.forcedInclusionWindow;
        forcedEscapeWindow = config.forcedEscapeWindow;
        maxProposalGap = config.maxProposalGap;
    }

    /// @notice Bind the blobs of the current (type-3) transaction as one proposal.
    /// @dev Reads blobhash(i) for i = 0, 1, ... until it returns zero. The batch (including the L1 anchor)
    /// lives inside the blobs; this call only records their versioned hashes in the event. With a preconfer
    /// source, reverts `NotPreconfer` unless the caller may propose now (see `canPropose`).
    /// @return id The proposal id.
    function propose() external returns (uint256 id) {
        if (address(preconferSource) != address(0)) _checkAndRecordProposer();
        bytes32[] memory hashes = _blobHashes();
        if (hashes.length == 0) revert NoBlobs();
        id = _emitProposed(hashes);
    }

    /// @notice Propose with promised transactions: like `propose`, plus `txs`, the transactions the caller
    /// promised (signed inclusion commitments) in this order. They are included on L2 whatever the blobs hold
    /// (also without blobs, and when the batch is invalid), so their inclusion is provable on L1 from the
    /// stored root alone (docs/protocol.md section 11).
    /// @dev Blobs are optional here. Posting rights as `propose` (checked first); then reverts
    /// `InvalidPromisedTxs` on an empty or oversized list or transaction.
    /// @return id The proposal id.
    function proposePromised(bytes[] calldata txs) external returns (uint256 id) {
        if (address(preconferSource) != address(0)) _checkAndRecordProposer();
        uint256 n = txs.length;
        if (n == 0 || n > MAX_PROMISED_TXS) revert InvalidPromisedTxs();
        bytes32[] memory leaves = new bytes32[](n);
        for (uint256 i = 0; i < n; ++i) {
            uint256 len = txs[i].length;
            if (len == 0 || len > MAX_PROMISED_TX_SIZE) revert InvalidPromisedTxs();
            leaves[i] = keccak256(txs[i]);
        }
        id = _emitProposed(_blobHashes());
        bytes32 root = _merkleRoot(leaves);
        promisedRecords[id] = PromisedRecord({root: root, timestamp: uint64(block.timestamp), count: uint32(n)});
        emit Promised(id, root, txs);
    }

    /// @notice The promised-transaction record of proposal `id` (all zero if it carried none).
    function promisedRecord(uint256 id) external view returns (PromisedRecord memory) {
        return promisedRecords[id];
    }

    /// @notice Merkle root of `leaves` as stored by `proposePromised` (zero for none): pairs are hashed
    /// level by level, `keccak256(left || right)`, the last node of a level with an odd count paired with
    /// `bytes32(0)`, until one node is left (one leaf: the leaf itself).
    function promisedRoot(bytes32[] memory leaves) external pure returns (bytes32) {
        return _merkleRoot(leaves);
    }

    /// @notice Whether `leaf` is the `index`-th of `count` leaves under `root` (`proof`: the siblings from the
    /// leaf level up, exactly `ceil(log2(count))` of them).
    function verifyPromised(bytes32 root, uint256 count, uint256 index, bytes32 leaf, bytes32[] calldata proof)
        external
        pure
        returns (bool)
    {
        if (index >= count) return false;
        uint256 depth = 0;
        while ((uint256(1) << depth) < count) {
            ++depth;
        }
        if (proof.length != depth) return false;
        bytes32 node = leaf;
        for (uint256 i = 0; i < depth; ++i) {
            node = (index >> i) & 1 == 0
                ? keccak256(abi.encodePacked(node, proof[i]))
                : keccak256(abi.encodePacked(proof[i], node));
        }
        return node == root;
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
        if (address(preconferSource) != address(0)) forcedQueuedAt[id] = block.number;
        emit ForcedInclusionQueued(id, msg.sender, signedTx);
    }

    /// @notice Whether `propose` is open to anyone in the current block: always without a preconfer source;
    /// otherwise iff no successful proposal for `maxProposalGap` blocks (`block.number >= lastProposalBlock +
    /// maxProposalGap`) or the oldest unserved forced transaction, queued in block `Q`, is overdue
    /// (`block.number >= Q + forcedInclusionWindow + forcedEscapeWindow`).
    function escapeHatchOpen() public view returns (bool) {
        if (address(preconferSource) == address(0)) return true;
        if (block.number >= uint256(lastProposalBlock) + maxProposalGap) return true;
        uint256 oldest = nextUnservedForcedId;
        return oldest < nextForcedInclusionId
            && block.number >= forcedQueuedAt[oldest] + forcedInclusionWindow + forcedEscapeWindow;
    }

    /// @notice Whether `who` may `propose` in the current block: the escape hatch is open, or the current
    /// slot has no preconfer, or `who` is its committer.
    function canPropose(address who) external view returns (bool) {
        if (escapeHatchOpen()) return true;
        (, address committer) = preconferSource.preconferAt(preconferSource.slotAt(block.timestamp));
        return committer == address(0) || committer == who;
    }

    /// @dev The versioned hashes of the current transaction's blobs (`blobhash(i)` until zero).
    function _blobHashes() private view returns (bytes32[] memory hashes) {
        uint256 count = 0;
        while (blobhash(count) != bytes32(0)) {
            unchecked {
                ++count;
            }
        }
        hashes = new bytes32[](count);
        for (uint256 i = 0; i < count; ++i) {
            hashes[i] = blobhash(i);
        }
    }

    /// @dev The next proposal id and its `Proposed` event (posting rights already checked).
    function _emitProposed(bytes32[] memory hashes) private returns (uint256 id) {
        id = nextProposalId++;
        emit Proposed(id, msg.sender, hashes);
    }

    /// @dev See `promisedRoot`; overwrites `leaves`.
    function _merkleRoot(bytes32[] memory leaves) private pure returns (bytes32) {
        uint256 n = leaves.length;
        if (n == 0) return bytes32(0);
        while (n > 1) {
            uint256 half = (n + 1) / 2;
            for (uint256 i = 0; i < half; ++i) {
                bytes32 left = leaves[2 * i];
                bytes32 right = 2 * i + 1 < n ? leaves[2 * i + 1] : bytes32(0);
                leaves[i] = keccak256(abi.encodePacked(left, right));
            }
            n = half;
        }
        return leaves[0];
    }

    /// @dev Posting rights check and bookkeeping of a successful proposal (preconfer source set): records the
    /// block and marks every forced transaction due now as served (derivation includes them with this
    /// proposal, docs/protocol.md section 6.3).
    function _checkAndRecordProposer() private {
        if (!escapeHatchOpen()) {
            uint256 slot = preconferSource.slotAt(block.timestamp);
            (, address committer) = preconferSource.preconferAt(slot);
            if (committer != address(0) && committer != msg.sender) revert NotPreconfer(slot, committer);
        }
        lastProposalBlock = uint64(block.number);
        uint256 next = nextForcedInclusionId;
        uint256 oldest = nextUnservedForcedId;
        uint256 window = forcedInclusionWindow;
        uint256 limit = oldest + MAX_SERVED_PER_PROPOSAL;
        if (limit < next) next = limit;
        while (oldest < next && forcedQueuedAt[oldest] + window <= block.number) {
            unchecked {
                ++oldest;
            }
        }
        nextUnservedForcedId = uint64(oldest);
    }
}
