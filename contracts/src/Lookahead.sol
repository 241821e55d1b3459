// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {IPreconferSource} from "./IPreconferSource.sol";
import {SlotClock} from "./SlotClock.sol";
import {SSZ} from "./SSZ.sol";
import {BLS} from "./BLS.sol";

/// @notice The part of the `Registry` the lookahead uses.
interface ICommitterRegistry {
    /// @notice The committer with commit rights for the key at `timestamp`, or the zero address.
    function committerAt(bytes32 pubkeyHash, uint256 timestamp) external view returns (address);

    /// @notice Takes up to `amount` wei of the key's collateral, paid to `recipient` (zero = burned); only the
    /// Registry's `slasher` (this Lookahead) may call it.
    function slash(bytes32 pubkeyHash, uint256 amount, address recipient) external returns (uint256 taken);
}

/// @title based proposer lookahead store
/// @notice The opted-in L1 proposers of each epoch, posted during the previous epoch by any committer with commit
/// rights, and the preconfer of every slot derived from them (opt-in mode of the posting rights).
/// @dev Spec: docs/lookahead.md. The preconfer of slot `s` (epoch `e`) is the first posted entry of epoch `e`
/// at a slot `>= s` whose key has a committer in the `Registry` at `slotTimestamp(s)`; if there is none, the
/// fallback source's preconfer (if configured), else none. Entries are not checked against the beacon chain
/// here: a wrong lookahead is contestable against the EIP-4788 beacon block root (`proveIncorrectLookahead`,
/// docs/lookahead.md §5); a successful contest slashes the poster's key and voids the epoch.
contract Lookahead is SlotClock, IPreconferSource {
    /// @notice Deployment parameters (immutable).
    struct Config {
        /// The validator `Registry` (commit rights).
        address registry;
        /// Preconfer source asked for slots without an opted-in preconfer (e.g. a `Whitelist` with the same
        /// clock); zero = none (such slots are open to anyone).
        address fallbackSource;
        /// Timestamp of slot 0.
        uint64 genesisTimestamp;
        /// Seconds per slot.
        uint64 secondsPerSlot;
        /// Slots per epoch (1..=256).
        uint64 slotsPerEpoch;
        /// The EIP-4788 beacon roots contract (`0x000F3df6D732807Ef1319fB7B8bB8522d0Beac02` on L1); zero =
        /// contests disabled.
        address beaconRoots;
        /// Wei of the poster key's collateral a successful contest takes (capped at what it holds).
        uint256 slashAmount;
        /// Part of `slashAmount` paid to the contester (the rest is burned, i.e. left locked in the Registry).
        uint256 contesterReward;
    }

    /// @notice Evidence that the posted lookahead of `epochOf(slot)` is wrong at `slot` (docs/lookahead.md §5).
    struct ContestProof {
        /// The contested slot.
        uint256 slot;
        /// An L1 block timestamp whose parent beacon block (EIP-4788) is `header`.
        uint256 beaconTimestamp;
        /// The beacon block header; its slot must be in the epoch before the contested one.
        SSZ.BeaconBlockHeader header;
        /// The chunk of the state's `proposer_lookahead` holding the slot's proposer index.
        bytes32 lookaheadChunk;
        /// Branch from `lookaheadChunk` to `header.stateRoot`.
        bytes32[] lookaheadProof;
        /// The proposer's public key (EIP-2537 encoding).
        BLS.G1Point proposerPubkey;
        /// Branch from the key's SSZ root (`validators[index].pubkey`) to `header.stateRoot`.
        bytes32[] pubkeyProof;
    }

    /// @notice One opted-in proposer of the posted epoch.
    struct Entry {
        /// The L1 slot the validator proposes (inside the posted epoch).
        uint64 slot;
        /// The beacon-chain validator index (what `proposer_lookahead` holds; used by a contest).
        uint64 validatorIndex;
        /// The validator key's identity, `Registry.pubkeyHashOf(pubkey)`.
        bytes32 pubkeyHash;
    }

    /// @notice What is stored per posted epoch.
    struct EpochRecord {
        /// The committer that posted (zero = not posted).
        address poster;
        /// The key whose commit rights authorised the poster (its collateral backs the lookahead).
        bytes32 posterPubkeyHash;
        /// `keccak256(abi.encode(entries))`, for a contest to re-supply the entries.
        bytes32 entriesHash;
        /// Bit `i` set iff slot `epoch * slotsPerEpoch + i` has an entry (cleared by a successful contest).
        uint256 slotMask;
        /// The lookahead was proven wrong: every slot of the epoch falls back (`preconferAt`).
        bool contested;
    }

    /// @notice Generalized index of `BeaconState.proposer_lookahead` (Fulu: field 37 of 38, depth 6).
    uint256 public constant PROPOSER_LOOKAHEAD_GINDEX = 64 + 37;
    /// @notice Generalized index of the data root of `BeaconState.validators` (field 11, under the length
    /// mix-in): `(64 + 11) * 2`; then depth 40 (`VALIDATOR_REGISTRY_LIMIT = 2^40`), then the `Validator`
    /// container (8 fields, depth 3, `pubkey` = field 0).
    uint256 public constant VALIDATORS_DATA_GINDEX = (64 + 11) * 2;

    /// @notice The validator `Registry`.
    ICommitterRegistry public immutable registry;
    /// @notice See `Config.fallbackSource`.
    IPreconferSource public immutable fallbackSource;
    /// @notice See `Config.beaconRoots`.
    address public immutable beaconRoots;
    /// @notice See `Config.slashAmount`.
    uint256 public immutable slashAmount;
    /// @notice See `Config.contesterReward`.
    uint256 public immutable contesterReward;
    /// @notice Depth of the `proposer_lookahead` vector (`2 * slotsPerEpoch` packed `uint64`s, 4 per chunk).
    uint256 public immutable lookaheadDepth;

    mapping(uint256 epoch => EpochRecord) private epochs;
    mapping(uint256 slot => bytes32 pubkeyHash) private slotKeys;

    /// @notice The lookahead of `epoch` was posted by `poster` (committer of `posterPubkeyHash`).
    event LookaheadPosted(uint256 indexed epoch, address indexed poster, bytes32 indexed posterPubkeyHash, Entry[] entries);
    /// @notice The lookahead of `epoch` was proven wrong at `slot` by `contester`: `slashed` wei were taken from
    /// the poster's key, `reward` of them paid to the contester; the epoch is void.
    event LookaheadContested(
        uint256 indexed epoch,
        bytes32 indexed posterPubkeyHash,
        address indexed contester,
        uint256 slot,
        uint256 slashed,
        uint256 reward
    );

    /// @notice The registry is the zero address, or `contesterReward > slashAmount`.
    error InvalidConfig();
    /// @notice Only the epoch after the current one (`expected`) may be posted.
    error NotNextEpoch(uint256 epoch, uint256 expected);
    /// @notice The lookahead of `epoch` is already posted.
    error AlreadyPosted(uint256 epoch);
    /// @notice The caller is not the committer of `posterPubkeyHash` at the start of the posted epoch.
    error NotCommitter(bytes32 posterPubkeyHash, address committer);
    /// @notice Entry `index` is outside the posted epoch or not after the previous entry's slot.
    error InvalidEntry(uint256 index);
    /// @notice Contests are disabled (`beaconRoots` is zero).
    error ContestDisabled();
    /// @notice The lookahead of `epoch` was not posted.
    error NotPosted(uint256 epoch);
    /// @notice The lookahead of `epoch` was already contested.
    error AlreadyContested(uint256 epoch);
    /// @notice The beacon roots contract has no root for `timestamp`.
    error BeaconRootUnavailable(uint256 timestamp);
    /// @notice The header does not hash to the beacon block root.
    error InvalidBeaconHeader();
    /// @notice The header's slot is not in the epoch before the contested one.
    error WrongBeaconEpoch(uint256 headerSlot);
    /// @notice The `proposer_lookahead` branch does not verify.
    error InvalidLookaheadProof();
    /// @notice The proposer index is not below `2^40` (no such validator).
    error InvalidValidatorIndex(uint64 index);
    /// @notice The public key is not a curve point, or its branch does not verify.
    error InvalidPubkeyProof();
    /// @notice The posted lookahead is right at `slot` (the proven proposer matches the entry, or has no entry
    /// and no commit rights).
    error NoFault(uint256 slot);

    constructor(Config memory config)
        SlotClock(config.genesisTimestamp, config.secondsPerSlot, config.slotsPerEpoch)
    {
        if (config.registry == address(0) || config.contesterReward > config.slashAmount) revert InvalidConfig();
        registry = ICommitterRegistry(config.registry);
        fallbackSource = IPreconferSource(config.fallbackSource);
        beaconRoots = config.beaconRoots;
        slashAmount = config.slashAmount;
        contesterReward = config.contesterReward;
        uint256 chunks = (2 * uint256(config.slotsPerEpoch) + 3) / 4;
        uint256 depth = 0;
        while ((uint256(1) << depth) < chunks) ++depth;
        lookaheadDepth = depth;
    }

    /// @notice Posts the opted-in proposers of `epoch`, which must be the next epoch. The caller must be the
    /// committer of `posterPubkeyHash` at `epochTimestamp(epoch)`; the first valid post of an epoch is final
    /// (a wrong one is to be contested, not overwritten).
    /// @param entries One per slot of `epoch` whose proposer is opted in, in strictly increasing slot order.
    /// Entries of keys without commit rights are accepted and ignored by `preconferAt`.
    function postLookahead(uint256 epoch, bytes32 posterPubkeyHash, Entry[] calldata entries) external {
        uint256 expected = currentEpoch() + 1;
        if (epoch != expected) revert NotNextEpoch(epoch, expected);
        EpochRecord storage rec = epochs[epoch];
        if (rec.poster != address(0)) revert AlreadyPosted(epoch);
        address committer = registry.committerAt(posterPubkeyHash, epochTimestamp(epoch));
        if (committer != msg.sender) revert NotCommitter(posterPubkeyHash, committer);

        uint256 first = epoch * slotsPerEpoch;
        uint256 end = first + slotsPerEpoch;
        uint256 mask = 0;
        uint256 next = first; // lowest slot allowed for the next entry
        for (uint256 i = 0; i < entries.length; ++i) {
            uint256 slot = entries[i].slot;
            if (slot < next || slot >= end) revert InvalidEntry(i);
            next = slot + 1;
            mask |= uint256(1) << (slot - first);
            slotKeys[slot] = entries[i].pubkeyHash;
        }
        rec.poster = msg.sender;
        rec.posterPubkeyHash = posterPubkeyHash;
        rec.entriesHash = keccak256(abi.encode(entries));
        rec.slotMask = mask;
        emit LookaheadPosted(epoch, msg.sender, posterPubkeyHash, entries);
    }

    /// @notice Proves the posted lookahead of `epochOf(proof.slot)` wrong at `proof.slot` against the beacon
    /// chain, slashes the poster's key by `slashAmount` (paying `contesterReward` of it to the caller) and voids
    /// the epoch. Faults: the slot has an entry whose key is not the beacon proposer's, or has no entry although
    /// the proposer's key has commit rights at the slot's start. Anyone may call it.
    /// @dev Chain of evidence: EIP-4788 root of `beaconTimestamp` = `hash_tree_root(header)`, header slot in the
    /// previous epoch (its post-state's `proposer_lookahead` covers that epoch and the contested one) ->
    /// `lookaheadChunk` under `header.stateRoot` -> proposer index -> `validators[index].pubkey` under the same
    /// state root = compressed `proposerPubkey` -> `keccak256(abi.encode(proposerPubkey))`.
    function proveIncorrectLookahead(ContestProof calldata proof) external {
        if (beaconRoots == address(0)) revert ContestDisabled();
        uint256 slot = proof.slot;
        uint256 epoch = slot / slotsPerEpoch;
        EpochRecord storage rec = epochs[epoch];
        if (rec.poster == address(0)) revert NotPosted(epoch);
        if (rec.contested) revert AlreadyContested(epoch);

        bytes32 stateRoot = _verifiedStateRoot(proof, epoch);
        uint64 index = _provenProposer(proof, stateRoot, slot - (epoch - 1) * slotsPerEpoch);
        bytes32 proposerKey = _provenKey(proof, stateRoot, index);

        bool hasEntry = (rec.slotMask >> (slot - epoch * slotsPerEpoch)) & 1 == 1;
        bool fault = hasEntry
            ? slotKeys[slot] != proposerKey
            : registry.committerAt(proposerKey, slotTimestamp(slot)) != address(0);
        if (!fault) revert NoFault(slot);

        // Effects before the Registry pays the contester.
        rec.contested = true;
        rec.slotMask = 0;
        bytes32 posterKey = rec.posterPubkeyHash;
        uint256 reward = registry.slash(posterKey, contesterReward, msg.sender);
        uint256 burned = registry.slash(posterKey, slashAmount - contesterReward, address(0));
        emit LookaheadContested(epoch, posterKey, msg.sender, slot, reward + burned, reward);
    }

    /// @inheritdoc IPreconferSource
    function slotAt(uint256 timestamp) public view override(SlotClock, IPreconferSource) returns (uint256) {
        return SlotClock.slotAt(timestamp);
    }

    /// @inheritdoc IPreconferSource
    /// @dev The first entry of `slot`'s epoch at a slot `>= slot` whose key has a committer at
    /// `slotTimestamp(slot)`; else the fallback source's answer; else none.
    function preconferAt(uint256 slot) external view returns (bytes32 pubkeyHash, address committer) {
        uint256 epoch = slot / slotsPerEpoch;
        uint256 offset = slot - epoch * slotsPerEpoch;
        uint256 mask = epochs[epoch].slotMask >> offset;
        uint256 time = slotTimestamp(slot);
        uint256 candidate = slot;
        while (mask != 0) {
            uint256 skip = _lowestBit(mask);
            candidate += skip;
            pubkeyHash = slotKeys[candidate];
            committer = registry.committerAt(pubkeyHash, time);
            if (committer != address(0)) return (pubkeyHash, committer);
            mask >>= skip + 1;
            candidate += 1;
        }
        if (address(fallbackSource) != address(0)) return fallbackSource.preconferAt(slot);
        return (bytes32(0), address(0));
    }

    /// @notice The record of `epoch` (all zero if not posted).
    function epochRecord(uint256 epoch) external view returns (EpochRecord memory) {
        return epochs[epoch];
    }

    /// @notice The posted key of `slot` (zero if its epoch has no entry at that slot).
    function slotKey(uint256 slot) external view returns (bytes32) {
        return slotKeys[slot];
    }

    /// @dev The header's state root, after checking the header against the EIP-4788 root and its epoch.
    function _verifiedStateRoot(ContestProof calldata proof, uint256 epoch) private view returns (bytes32) {
        (bool ok, bytes memory out) = beaconRoots.staticcall(abi.encode(proof.beaconTimestamp));
        if (!ok || out.length != 32) revert BeaconRootUnavailable(proof.beaconTimestamp);
        bytes32 root = abi.decode(out, (bytes32));
        if (root == bytes32(0)) revert BeaconRootUnavailable(proof.beaconTimestamp);
        if (SSZ.headerRoot(proof.header) != root) revert InvalidBeaconHeader();
        if (proof.header.slot / slotsPerEpoch + 1 != epoch) revert WrongBeaconEpoch(proof.header.slot);
        return proof.header.stateRoot;
    }

    /// @dev The validator index at `position` of the proven `proposer_lookahead`.
    function _provenProposer(ContestProof calldata proof, bytes32 stateRoot, uint256 position)
        private
        view
        returns (uint64 index)
    {
        uint256 gindex = (PROPOSER_LOOKAHEAD_GINDEX << lookaheadDepth) | (position / 4);
        if (!SSZ.verify(stateRoot, proof.lookaheadChunk, gindex, proof.lookaheadProof)) {
            revert InvalidLookaheadProof();
        }
        index = SSZ.uint64At(proof.lookaheadChunk, position % 4);
        if (index >= uint64(1) << 40) revert InvalidValidatorIndex(index);
    }

    /// @dev The Registry identity of the key proven at `validators[index].pubkey`.
    function _provenKey(ContestProof calldata proof, bytes32 stateRoot, uint64 index) private view returns (bytes32) {
        (bool ok, bytes32 leaf) = SSZ.pubkeyRoot(proof.proposerPubkey);
        if (!ok) revert InvalidPubkeyProof();
        uint256 gindex = ((VALIDATORS_DATA_GINDEX << 40) | index) << 3;
        if (!SSZ.verify(stateRoot, leaf, gindex, proof.pubkeyProof)) revert InvalidPubkeyProof();
        return keccak256(abi.encode(proof.proposerPubkey));
    }

    /// @dev Index of the lowest set bit of a non-zero `x` (binary search).
    function _lowestBit(uint256 x) private pure returns (uint256 n) {
        if (x & type(uint128).max == 0) { n += 128; x >>= 128; }
        if (x & type(uint64).max == 0) { n += 64; x >>= 64; }
        if (x & type(uint32).max == 0) { n += 32; x >>= 32; }
        if (x & type(uint16).max == 0) { n += 16; x >>= 16; }
        if (x & type(uint8).max == 0) { n += 8; x >>= 8; }
        if (x & 0xf == 0) { n += 4; x >>= 4; }
        if (x & 0x3 == 0) { n += 2; x >>= 2; }
        if (x & 0x1 == 0) { n += 1; }
    }
}
