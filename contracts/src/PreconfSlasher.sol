// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {ISlasher} from "./ISlasher.sol";
import {Lookahead} from "./Lookahead.sol";
import {Inbox} from "./Inbox.sol";

/// @notice The part of the `Registry` the slasher reads.
interface ICommitRights {
    /// @notice The committer with commit rights for the key at `timestamp`, or the zero address.
    function committerAt(bytes32 pubkeyHash, uint256 timestamp) external view returns (address);
}

/// @title Preconfirmation slasher (inclusion commitments, type 1)
/// @notice Judges a committer's signed inclusion promise "`signedTx` is included on L2 by L1 slot `slot`"
/// (docs/protocol.md §10.1) for the `Registry`, behind eth-fabric URC's `ISlasher` interface. Two faults:
/// - **Broken promise** (optimistic): anyone opens a challenge with a bond (`openChallenge`) once the slot is
///   `challengeDelay` slots old; within `defenceWindow` seconds anyone may defend it (`defend`) by showing
///   the transaction hash in the promised record of an `Inbox` proposal included by an L1 block of a slot
///   `<= slot` (the bond then goes to the committer); undefended, the validator is slashed through
///   `Registry.slashCommitment` (evidence kind 0) and the bond is refunded to the challenger.
/// - **Promise for a slot the signer did not own**: slashed at once through `Registry.slashCommitment`
///   (evidence kind 1) when the slot's preconfer committer is not the signer although the slashed validator
///   had delegated to the signer at that slot.
/// @dev Spec: docs/slashing.md ("Contracts"). `evidence = abi.encode(uint8 kind)`: 0 = lost challenge, 1 = slot
/// not owned. The validator's key travels in `delegation.metadata = abi.encode(bytes32 pubkeyHash)`. Slots of an
/// epoch whose lookahead was contested are never judged (its preconfers are void). Payments out of this
/// contract (bonds) never block a defence or a slash: a failed transfer is credited to `owed` for `withdraw`.
contract PreconfSlasher is ISlasher {
    /// @notice Deployment parameters (immutable).
    struct Config {
        /// The validator `Registry`: the only caller of `slash`; its `committerAt` gives delegations.
        address registry;
        /// The `Lookahead`: slot clock, `preconferAt` and epoch records (contested epochs are not judged).
        address preconferSource;
        /// The `Inbox` holding the proposals' promised records.
        address inbox;
        /// Exact bond (wei) of `openChallenge`.
        uint256 challengeBond;
        /// Slots after the promised slot before a challenge may open / a not-owned promise is judged (the L1
        /// finality margin).
        uint64 challengeDelay;
        /// Slots (after `slot + challengeDelay`) during which a challenge may open (> 0).
        uint64 challengeWindow;
        /// Seconds a challenge stays open to a defence (> 0).
        uint64 defenceWindow;
        /// Wei of collateral a successful slash asks the registry to take.
        uint256 slashAmount;
    }

    /// @notice Payload of an inclusion commitment: `abi.encode((uint64 slot, bytes signedTx))`.
    struct InclusionPayload {
        /// The L1 slot by which the transaction is included.
        uint64 slot;
        /// The EIP-2718 signed L2 transaction.
        bytes signedTx;
    }

    /// @notice State of a challenge.
    enum Status {
        None,
        Open,
        Defended,
        Slashed
    }

    /// @notice A broken-promise challenge (id = the commitment digest).
    struct Challenge {
        /// Who opened it (gets the bond back if the validator is slashed).
        address challenger;
        /// The promised slot.
        uint64 slot;
        /// State.
        Status status;
        /// The signer (the slot's preconfer committer); gets the bond if the challenge is defended.
        address committer;
        /// Last timestamp at which `defend` is accepted.
        uint64 deadline;
        /// The validator key of the slot's preconfer (the one slashed).
        bytes32 pubkeyHash;
        /// `keccak256(signedTx)`: the L2 transaction hash and the promised-record leaf.
        bytes32 txHash;
        /// The bond held.
        uint256 bond;
    }

    /// @notice Commitment type judged here (inclusion).
    uint64 public constant INCLUSION_COMMITMENT_TYPE = 1;
    /// @notice Evidence kind: a challenge not defended in time.
    uint8 public constant EVIDENCE_LOST_CHALLENGE = 0;
    /// @notice Evidence kind: a promise for a slot whose preconfer committer is not the signer.
    uint8 public constant EVIDENCE_NOT_OWNED = 1;
    /// @notice Gas forwarded with a bond payment (a receiver that needs more, or reverts, is credited instead).
    uint256 public constant PAYMENT_GAS = 50_000;

    uint256 private constant HALF_N = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0;

    /// @notice See `Config.registry`.
    ICommitRights public immutable registry;
    /// @notice See `Config.preconferSource`.
    Lookahead public immutable preconferSource;
    /// @notice See `Config.inbox`.
    Inbox public immutable inbox;
    /// @notice See `Config.challengeBond`.
    uint256 public immutable challengeBond;
    /// @notice See `Config.challengeDelay`.
    uint64 public immutable challengeDelay;
    /// @notice See `Config.challengeWindow`.
    uint64 public immutable challengeWindow;
    /// @notice See `Config.defenceWindow`.
    uint64 public immutable defenceWindow;
    /// @notice See `Config.slashAmount`.
    uint256 public immutable slashAmount;

    mapping(bytes32 id => Challenge) private challenges;
    /// @notice Commitments (by digest) already slashed as not owned.
    mapping(bytes32 id => bool) public notOwnedSlashed;
    /// @notice Wei whose transfer failed, claimable with `withdraw`.
    mapping(address account => uint256 amount) public owed;

    /// @notice A challenge of the promise `id` (its commitment digest) was opened.
    event ChallengeOpened(
        bytes32 indexed id,
        address indexed challenger,
        address indexed committer,
        bytes32 pubkeyHash,
        uint64 slot,
        bytes32 txHash,
        uint256 deadline,
        uint256 bond
    );
    /// @notice The challenge `id` was answered: the transaction is leaf `index` of proposal `proposalId`'s
    /// promised record; the bond went to the committer.
    event ChallengeDefended(bytes32 indexed id, address indexed defender, uint256 proposalId, uint256 index, uint256 bond);
    /// @notice The undefended challenge `id` slashed `pubkeyHash` by `amount` wei (asked of the registry); the
    /// bond went back to the challenger; `slasher` is who called the registry.
    event ChallengeSlashed(
        bytes32 indexed id, bytes32 indexed pubkeyHash, address indexed committer, address slasher, uint256 amount
    );
    /// @notice The promise `id` for `slot`, which `committer` did not own, slashed `pubkeyHash` by `amount` wei.
    event NotOwnedSlashed(
        bytes32 indexed id,
        bytes32 indexed pubkeyHash,
        address indexed committer,
        uint64 slot,
        address slasher,
        uint256 amount
    );
    /// @notice Paying `amount` wei to `to` failed; it is credited to `owed[to]`.
    event PaymentDeferred(address indexed to, uint256 amount);
    /// @notice `to` withdrew `amount` wei of `owed`.
    event Withdrawn(address indexed to, uint256 amount);

    /// @notice A zero address, `challengeWindow == 0` or `defenceWindow == 0`.
    error InvalidConfig();
    /// @notice `msg.value` is not the bond.
    error WrongBond(uint256 expected, uint256 got);
    /// @notice Not an inclusion commitment.
    error WrongCommitmentType(uint64 commitmentType);
    /// @notice The commitment names another slasher.
    error WrongSlasher(address slasher);
    /// @notice The signature is not 65 bytes.
    error InvalidSignatureLength();
    /// @notice The signature's `s` is in the upper half of the curve order (malleable).
    error InvalidSignatureS();
    /// @notice `v` is not 27 or 28, or `ecrecover` found no signer.
    error InvalidSignature();
    /// @notice The payload is not `abi.encode((uint64, bytes))`.
    error InvalidPayload();
    /// @notice The current slot is before `firstSlot` (the promised slot is not `challengeDelay` slots old).
    error TooEarly(uint256 currentSlot, uint256 firstSlot);
    /// @notice The current slot is after `lastSlot` (the challenge window is over).
    error TooLate(uint256 currentSlot, uint256 lastSlot);
    /// @notice The lookahead of `epoch` was contested: its slots are not judged.
    error EpochContested(uint256 epoch);
    /// @notice The signer is not `slot`'s preconfer committer `committer` (for that fault: evidence kind 1).
    error NotSlotCommitter(uint256 slot, address committer);
    /// @notice `slot`'s preconfer has no validator key (whitelist fallback): nothing to slash.
    error NoValidatorKey(uint256 slot);
    /// @notice The commitment was already challenged.
    error ChallengeExists(bytes32 id);
    /// @notice No challenge `id`.
    error UnknownChallenge(bytes32 id);
    /// @notice The challenge was already defended or slashed.
    error ChallengeClosed(bytes32 id);
    /// @notice The defence window ended at `deadline`.
    error DefenceWindowClosed(bytes32 id, uint256 deadline);
    /// @notice The defence window is open until `deadline`.
    error DefenceWindowOpen(bytes32 id, uint256 deadline);
    /// @notice Proposal `proposalId` has no promised record.
    error NoPromisedRecord(uint256 proposalId);
    /// @notice The proposal was included in slot `proposalSlot`, after the promised `slot`.
    error ProposalTooLate(uint256 proposalSlot, uint256 slot);
    /// @notice The Merkle proof does not open the transaction hash in the promised record.
    error InvalidProof();
    /// @notice `slash` called by someone other than the registry.
    error NotRegistry();
    /// @notice `evidence` is not `abi.encode(uint8 kind)` with kind 0 or 1.
    error InvalidEvidence();
    /// @notice `delegation.metadata` is not `abi.encode(bytes32 pubkeyHash)`.
    error InvalidMetadata();
    /// @notice The slashed key is not the challenged slot's preconfer key `expected`.
    error WrongValidator(bytes32 expected, bytes32 got);
    /// @notice The signer is not the challenged committer `expected`.
    error WrongCommitter(address expected, address got);
    /// @notice The signer was `slot`'s preconfer committer: no not-owned fault.
    error SlotOwnedBySigner(uint256 slot);
    /// @notice The key's committer at the slot was `committer`, not the signer.
    error NotDelegated(bytes32 pubkeyHash, address committer);
    /// @notice The commitment was already slashed as not owned.
    error AlreadySlashed(bytes32 id);
    /// @notice `withdraw` with nothing owed.
    error NothingOwed();
    /// @notice The withdrawal transfer failed.
    error TransferFailed();

    constructor(Config memory config) {
        if (
            config.registry == address(0) || config.preconferSource == address(0) || config.inbox == address(0)
                || config.challengeWindow == 0 || config.defenceWindow == 0
        ) revert InvalidConfig();
        registry = ICommitRights(config.registry);
        preconferSource = Lookahead(config.preconferSource);
        inbox = Inbox(config.inbox);
        challengeBond = config.challengeBond;
        challengeDelay = config.challengeDelay;
        challengeWindow = config.challengeWindow;
        defenceWindow = config.defenceWindow;
        slashAmount = config.slashAmount;
    }

    // ------------------------------------------------------------------------------------------------------
    // Broken promise: challenge and defence
    // ------------------------------------------------------------------------------------------------------

    /// @notice Opens a challenge of a signed inclusion promise, paying exactly `challengeBond`. Allowed when the
    /// current slot is in `(slot + challengeDelay, slot + challengeDelay + challengeWindow]`, the slot's epoch
    /// is not contested and the signer is the slot's preconfer committer. One challenge per commitment, ever.
    /// @return id The challenge id: the commitment digest `keccak256(abi.encode(commitment))`.
    function openChallenge(Commitment calldata commitment, bytes calldata signature)
        external
        payable
        returns (bytes32 id)
    {
        if (msg.value != challengeBond) revert WrongBond(challengeBond, msg.value);
        id = _checkCommitment(commitment);
        address signer = _recover(id, signature);
        InclusionPayload memory payload = _decode(commitment.payload);
        uint256 slot = payload.slot;
        uint256 current = preconferSource.slotAt(block.timestamp);
        uint256 first = slot + challengeDelay + 1;
        if (current < first) revert TooEarly(current, first);
        uint256 last = slot + challengeDelay + challengeWindow;
        if (current > last) revert TooLate(current, last);
        _checkNotContested(slot);
        (bytes32 pubkeyHash, address committer) = preconferSource.preconferAt(slot);
        if (committer != signer) revert NotSlotCommitter(slot, committer);
        if (pubkeyHash == bytes32(0)) revert NoValidatorKey(slot);
        Challenge storage c = challenges[id];
        if (c.status != Status.None) revert ChallengeExists(id);
        bytes32 txHash = keccak256(payload.signedTx);
        uint256 deadline = block.timestamp + defenceWindow;
        c.challenger = msg.sender;
        c.slot = payload.slot;
        c.status = Status.Open;
        c.committer = signer;
        c.deadline = uint64(deadline);
        c.pubkeyHash = pubkeyHash;
        c.txHash = txHash;
        c.bond = msg.value;
        emit ChallengeOpened(id, msg.sender, signer, pubkeyHash, payload.slot, txHash, deadline, msg.value);
    }

    /// @notice Defends the open challenge `id` (anyone may, until its deadline inclusive): the challenged
    /// transaction hash is leaf `index` of the promised record of proposal `proposalId`, included in an L1 block
    /// of a slot `<= slot`. Pays the bond to the committer.
    /// @param proof The sibling hashes from the leaf up (`Inbox.verifyPromised`).
    function defend(bytes32 id, uint256 proposalId, uint256 index, bytes32[] calldata proof) external {
        Challenge storage c = _open(id);
        if (block.timestamp > c.deadline) revert DefenceWindowClosed(id, c.deadline);
        Inbox.PromisedRecord memory record = inbox.promisedRecord(proposalId);
        if (record.timestamp == 0) revert NoPromisedRecord(proposalId);
        uint256 proposalSlot = preconferSource.slotAt(record.timestamp);
        if (proposalSlot > c.slot) revert ProposalTooLate(proposalSlot, c.slot);
        if (!inbox.verifyPromised(record.root, record.count, index, c.txHash, proof)) revert InvalidProof();
        c.status = Status.Defended;
        uint256 bond = c.bond;
        emit ChallengeDefended(id, msg.sender, proposalId, index, bond);
        _pay(c.committer, bond);
    }

    // ------------------------------------------------------------------------------------------------------
    // ISlasher
    // ------------------------------------------------------------------------------------------------------

    /// @inheritdoc ISlasher
    /// @dev Registry only. `evidence = abi.encode(uint8 kind)`: 0 = the challenge `digest(commitment)` was not
    /// defended by its deadline (the slashed key must be the challenged preconfer's and `committer` the
    /// challenged signer; refunds the bond to the challenger); 1 = the signer did not own the promised slot
    /// (`slot + challengeDelay` passed, epoch not contested, the slot's preconfer committer is not `committer`,
    /// and the key delegated to `committer` at the slot's start). Each fault once per commitment.
    function slash(
        Delegation calldata delegation,
        Commitment calldata commitment,
        address committer,
        bytes calldata evidence,
        address challenger
    ) external returns (uint256 slashAmountWei) {
        if (msg.sender != address(registry)) revert NotRegistry();
        if (evidence.length != 32) revert InvalidEvidence();
        uint256 kind = uint256(bytes32(evidence[0:32]));
        if (kind > EVIDENCE_NOT_OWNED) revert InvalidEvidence();
        if (delegation.metadata.length != 32) revert InvalidMetadata();
        bytes32 pubkeyHash = bytes32(delegation.metadata[0:32]);
        bytes32 id = _checkCommitment(commitment);
        if (kind == EVIDENCE_LOST_CHALLENGE) {
            _slashLost(id, pubkeyHash, committer, challenger);
        } else {
            _slashNotOwned(id, commitment, pubkeyHash, committer, challenger);
        }
        return slashAmount;
    }

    /// @notice Withdraws the wei credited to the caller after a failed payment.
    function withdraw() external {
        uint256 amount = owed[msg.sender];
        if (amount == 0) revert NothingOwed();
        owed[msg.sender] = 0;
        emit Withdrawn(msg.sender, amount);
        (bool ok,) = msg.sender.call{value: amount}("");
        if (!ok) revert TransferFailed();
    }

    // ------------------------------------------------------------------------------------------------------
    // Views
    // ------------------------------------------------------------------------------------------------------

    /// @notice The challenge `id` (all zero if none).
    function challenge(bytes32 id) external view returns (Challenge memory) {
        return challenges[id];
    }

    /// @notice `keccak256(abi.encode(commitment))`: the signed digest and the challenge id.
    function digest(Commitment calldata commitment) external pure returns (bytes32) {
        return keccak256(abi.encode(commitment));
    }

    /// @notice The signer of `commitment` (same rules as `openChallenge` and the Registry).
    function recover(Commitment calldata commitment, bytes calldata signature) external pure returns (address) {
        return _recover(keccak256(abi.encode(commitment)), signature);
    }

    /// @notice Decodes an inclusion payload (reverts on malformed bytes; used through a self-call so that a
    /// malformed payload becomes `InvalidPayload`).
    function decodeInclusion(bytes calldata payload) external pure returns (InclusionPayload memory) {
        return abi.decode(payload, (InclusionPayload));
    }

    // ------------------------------------------------------------------------------------------------------
    // Internal
    // ------------------------------------------------------------------------------------------------------

    function _slashLost(bytes32 id, bytes32 pubkeyHash, address committer, address challenger) private {
        Challenge storage c = _open(id);
        if (block.timestamp <= c.deadline) revert DefenceWindowOpen(id, c.deadline);
        if (pubkeyHash != c.pubkeyHash) revert WrongValidator(c.pubkeyHash, pubkeyHash);
        if (committer != c.committer) revert WrongCommitter(c.committer, committer);
        c.status = Status.Slashed;
        emit ChallengeSlashed(id, pubkeyHash, committer, challenger, slashAmount);
        _pay(c.challenger, c.bond);
    }

    function _slashNotOwned(
        bytes32 id,
        Commitment calldata commitment,
        bytes32 pubkeyHash,
        address committer,
        address challenger
    ) private {
        if (notOwnedSlashed[id]) revert AlreadySlashed(id);
        InclusionPayload memory payload = _decode(commitment.payload);
        uint256 slot = payload.slot;
        uint256 current = preconferSource.slotAt(block.timestamp);
        uint256 first = slot + challengeDelay + 1;
        if (current < first) revert TooEarly(current, first);
        _checkNotContested(slot);
        (, address owner) = preconferSource.preconferAt(slot);
        if (owner == committer) revert SlotOwnedBySigner(slot);
        address delegated = registry.committerAt(pubkeyHash, preconferSource.slotTimestamp(slot));
        if (delegated != committer) revert NotDelegated(pubkeyHash, delegated);
        notOwnedSlashed[id] = true;
        emit NotOwnedSlashed(id, pubkeyHash, committer, payload.slot, challenger, slashAmount);
    }

    /// @dev The open challenge `id`.
    function _open(bytes32 id) private view returns (Challenge storage c) {
        c = challenges[id];
        if (c.status == Status.None) revert UnknownChallenge(id);
        if (c.status != Status.Open) revert ChallengeClosed(id);
    }

    /// @dev Type and slasher checks; returns the digest.
    function _checkCommitment(Commitment calldata commitment) private view returns (bytes32) {
        if (commitment.commitmentType != INCLUSION_COMMITMENT_TYPE) {
            revert WrongCommitmentType(commitment.commitmentType);
        }
        if (commitment.slasher != address(this)) revert WrongSlasher(commitment.slasher);
        return keccak256(abi.encode(commitment));
    }

    function _checkNotContested(uint256 slot) private view {
        uint256 epoch = preconferSource.epochOf(slot);
        if (preconferSource.epochRecord(epoch).contested) revert EpochContested(epoch);
    }

    function _decode(bytes calldata payload) private view returns (InclusionPayload memory) {
        try this.decodeInclusion(payload) returns (InclusionPayload memory p) {
            return p;
        } catch {
            revert InvalidPayload();
        }
    }

    /// @dev `ecrecover` with URC's rules: 65 bytes `r || s || v`, low `s`, `v` in {27, 28}, a non-zero signer.
    function _recover(bytes32 hash, bytes calldata signature) private pure returns (address signer) {
        if (signature.length != 65) revert InvalidSignatureLength();
        bytes32 r = bytes32(signature[0:32]);
        bytes32 s = bytes32(signature[32:64]);
        uint8 v = uint8(signature[64]);
        if (uint256(s) > HALF_N) revert InvalidSignatureS();
        if (v != 27 && v != 28) revert InvalidSignature();
        signer = ecrecover(hash, v, r, s);
        if (signer == address(0)) revert InvalidSignature();
    }

    /// @dev Pays `amount` to `to` with `PAYMENT_GAS`; on failure credits `owed[to]` (never reverts).
    function _pay(address to, uint256 amount) private {
        if (amount == 0) return;
        (bool ok,) = to.call{value: amount, gas: PAYMENT_GAS}("");
        if (!ok) {
            owed[to] += amount;
            emit PaymentDeferred(to, amount);
        }
    }
}
