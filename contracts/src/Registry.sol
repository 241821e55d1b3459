// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {BLS} from "./BLS.sol";
import {ISlasher} from "./ISlasher.sol";

/// @title based validator Registry
/// @notice L1 validators opt in to commit (preconfirm) for the based rollup. Modelled on eth-fabric's Universal
/// Registry Contract (URC): a validator key is registered with a BLS signature over a message binding its owner,
/// with collateral; the owner delegates to a committer (an ECDSA address), unregisters and, after a delay,
/// claims the collateral back.
/// @dev Spec: docs/registry.md. A key is identified by `pubkeyHash = keccak256(abi.encode(pubkey))`, the
/// keccak-256 of its 128-byte EIP-2537 encoding. All times are L1 block timestamps in seconds. Opt-in, opt-out
/// and unregistration change `committerAt` only after a delay (at least one second), so the committer of a slot
/// whose lookahead is already published cannot change. `committerAt` answers from a per-key history that is
/// never rewritten and outlives `claimCollateral`: every delegation (committer, opt-in, opt-out) and every
/// period without rights for lack of collateral; a change takes effect after the block that makes it, so
/// `committerAt(key, t)` for any `t <= block.timestamp` never changes afterwards (slashing judges past slots by
/// it). Lookups are binary searches over the key's history (O(log n) reads; the latest entry first). Signed
/// commitments are slashed URC-style through `slashCommitment`, judged by the immutable `commitmentSlasher`
/// (an `ISlasher`).
contract Registry {
    /// @notice Deployment parameters (immutable).
    struct Config {
        /// Minimum collateral (wei) for registering and for having commit rights.
        uint256 minCollateral;
        /// Seconds after `optIn` until the committer is effective.
        uint64 optInDelay;
        /// Seconds after `optOut` (or `unregister`) until the committer stops being effective.
        uint64 optOutDelay;
        /// Seconds after `unregister` until `claimCollateral` is allowed; at least `optOutDelay`.
        uint64 unregistrationDelay;
        /// The only address allowed to call `slash` (zero = slashing disabled). The `Lookahead` (its lookahead
        /// contest) in opt-in mode: deploy the Registry with the Lookahead's precomputed CREATE address.
        address slasher;
        /// The `ISlasher` judging signed commitments in `slashCommitment` (zero = commitment slashing disabled);
        /// the `PreconfSlasher` in opt-in mode.
        address commitmentSlasher;
    }

    /// @notice The record of one registered validator key, as `getOperator` returns it (its delegation and
    /// undercollateralized fields come from the key's history, limited to the current registration).
    struct Operator {
        /// Owner: may opt in/out, unregister, claim. Zero means "not registered".
        address owner;
        /// Timestamp of `register`.
        uint48 registeredAt;
        /// Timestamp of `unregister`, 0 while registered.
        uint48 unregisteredAt;
        /// The committer of the last `optIn` since `register` (ECDSA address); zero if none.
        address committer;
        /// Timestamp of the last `optIn` since `register`, 0 if none.
        uint48 optedInAt;
        /// Timestamp of the `optOut` following the last `optIn` (or of `unregister`, which ends it too), 0 if
        /// none.
        uint48 optedOutAt;
        /// Collateral held for this key (wei).
        uint256 collateral;
        /// Start (inclusive) of the last period without commit rights for lack of collateral since `register`:
        /// one second after the slash that took it below `minCollateral` (0 = none).
        uint48 undercollateralizedFrom;
        /// End (exclusive) of that period: one second after the `addCollateral` that brought it back to
        /// `minCollateral` (0 = still open). `from == until`: an empty period.
        uint48 undercollateralizedUntil;
    }

    /// @notice One delegation of a key, kept for good: `committer` has commit rights from
    /// `optedInAt + optInDelay` (inclusive) until `optedOutAt + optOutDelay` (exclusive), unless a period without
    /// rights for lack of collateral covers the time.
    struct Delegation {
        /// The delegated committer (ECDSA address).
        address committer;
        /// Timestamp of the `optIn`.
        uint48 optedInAt;
        /// Timestamp of the `optOut` or `unregister` that ends it (0 = open).
        uint48 optedOutAt;
    }

    /// @notice One period without commit rights for lack of collateral, kept for good: `[from, until)`.
    struct Gap {
        /// One second after the slash that took the collateral below `minCollateral`.
        uint48 from;
        /// One second after the `addCollateral` (or new `register`) that restored it (0 = open).
        uint48 until;
    }

    /// @dev What `claimCollateral` deletes.
    struct Registration {
        address owner;
        uint48 registeredAt;
        uint48 unregisteredAt;
        uint256 collateral;
    }

    /// @dev A key's history, never deleted. Both lists are append-only and only their last entry is ever written
    /// again (a `Delegation`'s `optedOutAt` once, a `Gap`'s `until` once). Delegations: `optedInAt` strictly
    /// increasing, periods disjoint (an `optIn` needs the previous opt-out in effect). Gaps: `from`
    /// non-decreasing, periods disjoint; the last one is open iff the key is registered below `minCollateral`
    /// (or was when its collateral was claimed). The two counts share one slot, so `committerAt` reads it once.
    struct History {
        uint64 delegationCount;
        uint64 gapCount;
        mapping(uint256 index => Delegation) delegations;
        mapping(uint256 index => Gap) gaps;
    }

    /// @notice Domain of the registration message (the ASCII string, right-padded with zeros to 32 bytes).
    bytes32 public constant REGISTRATION_DOMAIN = "BASED_REGISTRY_REGISTRATION_V1";

    /// @notice See `Config`.
    uint256 public immutable minCollateral;
    /// @notice See `Config`.
    uint64 public immutable optInDelay;
    /// @notice See `Config`.
    uint64 public immutable optOutDelay;
    /// @notice See `Config`.
    uint64 public immutable unregistrationDelay;
    /// @notice See `Config`.
    address public immutable slasher;
    /// @notice See `Config`.
    address public immutable commitmentSlasher;

    uint256 private constant HALF_N = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0;

    mapping(bytes32 pubkeyHash => Registration) private registrations;
    mapping(bytes32 pubkeyHash => History) private histories;
    /// @notice Whether `keccak256(abi.encode(commitment, pubkeyHash))` was already slashed (`slashCommitment`).
    mapping(bytes32 key => bool) public slashedBefore;

    /// @notice A key was registered with `collateral` wei.
    event Registered(bytes32 indexed pubkeyHash, address indexed owner, BLS.G1Point pubkey, uint256 collateral);
    /// @notice `amount` wei were added; the key now holds `collateral` wei.
    event CollateralAdded(bytes32 indexed pubkeyHash, uint256 amount, uint256 collateral);
    /// @notice The key delegated to `committer`, effective from timestamp `effectiveAt`.
    event OptedIn(bytes32 indexed pubkeyHash, address indexed committer, uint256 effectiveAt);
    /// @notice The key's delegation to `committer` ends at timestamp `effectiveAt`.
    event OptedOut(bytes32 indexed pubkeyHash, address indexed committer, uint256 effectiveAt);
    /// @notice The key was unregistered; commit rights end at `effectiveAt`, collateral is claimable from `claimableAt`.
    event Unregistered(bytes32 indexed pubkeyHash, uint256 effectiveAt, uint256 claimableAt);
    /// @notice `amount` wei of collateral were paid back to `owner`; the record is deleted.
    event CollateralClaimed(bytes32 indexed pubkeyHash, address indexed owner, uint256 amount);
    /// @notice The slasher took `amount` wei of the key's collateral, paid to `recipient` (zero = kept locked in
    /// this contract, i.e. burned); the key now holds `collateral` wei.
    event Slashed(bytes32 indexed pubkeyHash, address indexed recipient, uint256 amount, uint256 collateral);
    /// @notice A signed commitment of `committer` slashed the key: `taken` wei of collateral were removed, `reward`
    /// of them paid to `challenger` (the rest stays locked here: burned); the key now holds `collateral` wei.
    /// `key` is `keccak256(abi.encode(commitment, pubkeyHash))`.
    event CommitmentSlashed(
        bytes32 indexed pubkeyHash,
        address indexed committer,
        address indexed challenger,
        bytes32 key,
        uint256 taken,
        uint256 reward,
        uint256 collateral
    );

    /// @notice `optInDelay` or `optOutDelay` is zero, or `unregistrationDelay < optOutDelay`.
    error InvalidConfig();
    /// @notice The value sent is below `minCollateral`.
    error InsufficientCollateral();
    /// @notice The public key is the point at infinity.
    error InvalidPubkey();
    /// @notice The owner is the zero address.
    error InvalidOwner();
    /// @notice The BLS signature does not verify the registration message under the public key.
    error InvalidSignature();
    /// @notice The key is already registered.
    error AlreadyRegistered();
    /// @notice The key is not registered.
    error NotRegistered();
    /// @notice The caller is not the key's owner.
    error NotOwner();
    /// @notice The key is unregistered.
    error AlreadyUnregistered();
    /// @notice `claimCollateral` before `unregister`.
    error NotUnregistered();
    /// @notice `claimCollateral` before `unregisteredAt + unregistrationDelay`.
    error EarlyClaim();
    /// @notice `optIn` while a delegation is active or its opt-out not yet effective.
    error AlreadyOptedIn();
    /// @notice `optOut` without a delegation that neither an opt-out nor `unregister` ended.
    error NotOptedIn();
    /// @notice The committer is the zero address.
    error InvalidCommitter();
    /// @notice No value sent to `addCollateral`.
    error NoValue();
    /// @notice Paying the collateral back failed.
    error TransferFailed();
    /// @notice The caller of `slash` is not the `slasher` (or slashing is disabled).
    error NotSlasher();
    /// @notice `commitmentSlasher` is zero: commitment slashing is disabled.
    error CommitmentSlashingDisabled();
    /// @notice The commitment names `slasher`, not this registry's `commitmentSlasher`.
    error WrongCommitmentSlasher(address slasher);
    /// @notice The commitment signature is not 65 bytes `r || s || v` with low `s`, `v` in {27, 28} and a signer.
    error InvalidCommitmentSignature();
    /// @notice This commitment already slashed this key (`key = keccak256(abi.encode(commitment, pubkeyHash))`).
    error AlreadySlashed(bytes32 key);

    constructor(Config memory config) {
        if (config.optInDelay == 0 || config.optOutDelay == 0 || config.unregistrationDelay < config.optOutDelay) {
            revert InvalidConfig();
        }
        minCollateral = config.minCollateral;
        optInDelay = config.optInDelay;
        optOutDelay = config.optOutDelay;
        unregistrationDelay = config.unregistrationDelay;
        slasher = config.slasher;
        commitmentSlasher = config.commitmentSlasher;
    }

    // ------------------------------------------------------------------------------------------------------
    // Registration
    // ------------------------------------------------------------------------------------------------------

    /// @notice Registers the validator key `pubkey` for `owner`, with `msg.value` wei of collateral. A key whose
    /// collateral was claimed may register again; its history (`committerAt` for earlier times) is kept.
    /// @param signature BLS signature (DST `BLS.DST`) over `registrationMessage(owner)` by `pubkey`'s secret key.
    /// Anyone may submit it (and pay the collateral); only `owner` controls the key afterwards.
    /// @return pubkeyHash The key's identity.
    function register(BLS.G1Point calldata pubkey, BLS.G2Point calldata signature, address owner)
        external
        payable
        returns (bytes32 pubkeyHash)
    {
        if (msg.value < minCollateral) revert InsufficientCollateral();
        if (owner == address(0)) revert InvalidOwner();
        BLS.G1Point memory pk = pubkey;
        if (BLS.isInfinity(pk)) revert InvalidPubkey();
        pubkeyHash = keccak256(abi.encode(pk));
        Registration storage reg = registrations[pubkeyHash];
        if (reg.owner != address(0)) revert AlreadyRegistered();
        if (!BLS.verify(pk, signature, registrationMessage(owner))) revert InvalidSignature();
        reg.owner = owner;
        reg.registeredAt = uint48(block.timestamp);
        reg.collateral = msg.value;
        // A previous registration slashed below the minimum left its last gap open: the new collateral closes it
        // (its delegations all ended before its claim, so no earlier answer changes).
        _closeGap(pubkeyHash);
        emit Registered(pubkeyHash, owner, pk, msg.value);
    }

    /// @notice Adds `msg.value` wei to a registered, not unregistered key's collateral (anyone may). Reaching
    /// `minCollateral` again restores commit rights from the next second on.
    function addCollateral(bytes32 pubkeyHash) external payable {
        if (msg.value == 0) revert NoValue();
        Registration storage reg = _registered(pubkeyHash);
        if (reg.unregisteredAt != 0) revert AlreadyUnregistered();
        uint256 before = reg.collateral;
        uint256 collateral = before + msg.value;
        reg.collateral = collateral;
        if (before < minCollateral && collateral >= minCollateral) _closeGap(pubkeyHash);
        emit CollateralAdded(pubkeyHash, msg.value, collateral);
    }

    /// @notice Starts unregistration: commit rights end `optOutDelay` seconds from now (an open delegation is
    /// ended as by `optOut`), the collateral is claimable `unregistrationDelay` seconds from now. Owner only.
    function unregister(bytes32 pubkeyHash) external {
        Registration storage reg = _owned(pubkeyHash);
        if (reg.unregisteredAt != 0) revert AlreadyUnregistered();
        reg.unregisteredAt = uint48(block.timestamp);
        History storage history = histories[pubkeyHash];
        uint256 n = history.delegationCount;
        if (n != 0) {
            Delegation storage last = history.delegations[n - 1];
            if (last.optedOutAt == 0) last.optedOutAt = uint48(block.timestamp);
        }
        emit Unregistered(pubkeyHash, block.timestamp + optOutDelay, block.timestamp + unregistrationDelay);
    }

    /// @notice Pays the whole collateral back to the owner and deletes the record (the key may register
    /// again; its history stays). Owner only; at least `unregistrationDelay` seconds after `unregister`.
    function claimCollateral(bytes32 pubkeyHash) external {
        Registration storage reg = _owned(pubkeyHash);
        uint256 unregisteredAt = reg.unregisteredAt;
        if (unregisteredAt == 0) revert NotUnregistered();
        if (block.timestamp < unregisteredAt + unregistrationDelay) revert EarlyClaim();
        address owner = reg.owner;
        uint256 amount = reg.collateral;
        delete registrations[pubkeyHash];
        emit CollateralClaimed(pubkeyHash, owner, amount);
        (bool ok,) = owner.call{value: amount}("");
        if (!ok) revert TransferFailed();
    }

    // ------------------------------------------------------------------------------------------------------
    // Delegation
    // ------------------------------------------------------------------------------------------------------

    /// @notice Delegates commit rights of the key to `committer`, effective `optInDelay` seconds from now; the
    /// delegation is appended to the key's history. Owner only; not while unregistered, nor while a previous
    /// delegation is active or its opt-out pending.
    function optIn(bytes32 pubkeyHash, address committer) external {
        if (committer == address(0)) revert InvalidCommitter();
        Registration storage reg = _owned(pubkeyHash);
        if (reg.unregisteredAt != 0) revert AlreadyUnregistered();
        History storage history = histories[pubkeyHash];
        uint256 n = history.delegationCount;
        if (n != 0) {
            uint256 optedOutAt = history.delegations[n - 1].optedOutAt;
            if (optedOutAt == 0 || block.timestamp < optedOutAt + optOutDelay) revert AlreadyOptedIn();
        }
        history.delegations[n] =
            Delegation({committer: committer, optedInAt: uint48(block.timestamp), optedOutAt: 0});
        history.delegationCount = uint64(n + 1);
        emit OptedIn(pubkeyHash, committer, block.timestamp + optInDelay);
    }

    /// @notice Ends the delegation `optOutDelay` seconds from now. Owner only.
    function optOut(bytes32 pubkeyHash) external {
        _owned(pubkeyHash);
        History storage history = histories[pubkeyHash];
        uint256 n = history.delegationCount;
        // An open delegation is always the current registration's: `unregister` ends it.
        if (n == 0 || history.delegations[n - 1].optedOutAt != 0) revert NotOptedIn();
        Delegation storage d = history.delegations[n - 1];
        d.optedOutAt = uint48(block.timestamp);
        emit OptedOut(pubkeyHash, d.committer, block.timestamp + optOutDelay);
    }

    // ------------------------------------------------------------------------------------------------------
    // Slashing
    // ------------------------------------------------------------------------------------------------------

    /// @notice Takes up to `amount` wei of the key's collateral (all of it if less) and pays it to `recipient`;
    /// `recipient == 0` keeps it locked here for good (burned). `slasher` only. Collateral below
    /// `minCollateral` removes the key's commit rights from the next second on (`committerAt`). Works on any
    /// record state (also after `unregister`, until `claimCollateral`); a key without a record loses nothing.
    /// @return taken The wei taken.
    function slash(bytes32 pubkeyHash, uint256 amount, address recipient) external returns (uint256 taken) {
        if (msg.sender != slasher || slasher == address(0)) revert NotSlasher();
        taken = _takeCollateral(pubkeyHash, amount);
        emit Slashed(pubkeyHash, recipient, taken, registrations[pubkeyHash].collateral);
        if (recipient != address(0) && taken != 0) {
            (bool ok,) = recipient.call{value: taken}("");
            if (!ok) revert TransferFailed();
        }
    }

    /// @notice Slashes the key `pubkeyHash` for a signed commitment (URC's `slashCommitment`): anyone may call.
    /// Requires `commitment.slasher == commitmentSlasher != 0`; recovers the committer from `signature` over
    /// `keccak256(abi.encode(commitment))` (65 bytes, low `s`, `v` in {27, 28}); refuses a commitment that
    /// already slashed this key; calls `commitmentSlasher.slash(delegation, commitment, committer, evidence,
    /// msg.sender)` with `delegation = {committer: the committer of the key's last opt-in since registering (zero
    /// if none), metadata: abi.encode(pubkeyHash)}` (BLS keys and slot zero), which reverts unless the commitment
    /// is slashable; takes up to the returned amount from the key's collateral and pays half of what it took to
    /// the caller; the rest stays locked here (burned).
    /// @param evidence Slasher-specific (`PreconfSlasher`: `abi.encode(uint8 kind)`).
    /// @return taken The wei taken from the collateral.
    function slashCommitment(
        bytes32 pubkeyHash,
        ISlasher.Commitment calldata commitment,
        bytes calldata signature,
        bytes calldata evidence
    ) external returns (uint256 taken) {
        address judge = commitmentSlasher;
        if (judge == address(0)) revert CommitmentSlashingDisabled();
        if (commitment.slasher != judge) revert WrongCommitmentSlasher(commitment.slasher);
        address committer = _recoverCommitter(keccak256(abi.encode(commitment)), signature);
        bytes32 key = keccak256(abi.encode(commitment, pubkeyHash));
        if (slashedBefore[key]) revert AlreadySlashed(key);
        slashedBefore[key] = true;

        ISlasher.Delegation memory delegation;
        delegation.committer = _currentDelegation(pubkeyHash, registrations[pubkeyHash]).committer;
        delegation.metadata = abi.encode(pubkeyHash);
        uint256 amount = ISlasher(judge).slash(delegation, commitment, committer, evidence, msg.sender);
        taken = _payCommitmentSlash(pubkeyHash, committer, key, amount);
    }

    // ------------------------------------------------------------------------------------------------------
    // Views
    // ------------------------------------------------------------------------------------------------------

    /// @notice The committer with commit rights for the key at `timestamp`, or the zero address.
    /// @dev From the key's history only: the delegation `d` with the latest `d.optedInAt + optInDelay <=
    /// timestamp`, if `timestamp < d.optedOutAt + optOutDelay` (or `d` is not ended) and no period without rights
    /// for lack of collateral (`[slash + 1, top-up + 1)`) covers `timestamp`. Every change takes effect after
    /// the block that makes it and the history is never rewritten, so the answer for any `timestamp <=
    /// block.timestamp` is final: a slash, an opt-out, a new opt-in or a new registration never changes it, and
    /// the preconfer of a past slot, which slashing judges, stays what it was. Reads O(log n) history entries.
    function committerAt(bytes32 pubkeyHash, uint256 timestamp) public view returns (address) {
        if (timestamp < optInDelay) return address(0);
        History storage history = histories[pubkeyHash];
        uint256 delegationCount = history.delegationCount;
        uint256 gapCount = history.gapCount;
        // The last delegation opted in at or before `timestamp - optInDelay`.
        (bool found, uint256 i) = _lastDelegationBefore(history, delegationCount, timestamp - optInDelay);
        if (!found) return address(0);
        Delegation storage d = history.delegations[i];
        uint256 optedOutAt = d.optedOutAt;
        if (optedOutAt != 0 && timestamp >= optedOutAt + optOutDelay) return address(0);
        if (gapCount != 0 && _undercollateralizedAt(history, gapCount, timestamp)) return address(0);
        return d.committer;
    }

    /// @notice `committerAt(pubkeyHash, block.timestamp)`.
    function currentCommitter(bytes32 pubkeyHash) external view returns (address) {
        return committerAt(pubkeyHash, block.timestamp);
    }

    /// @notice The record of a key (all zero if not registered): the registration, the last delegation and the
    /// last period without rights for lack of collateral made since `register`.
    function getOperator(bytes32 pubkeyHash) external view returns (Operator memory op) {
        Registration storage reg = registrations[pubkeyHash];
        if (reg.owner == address(0)) return op;
        op.owner = reg.owner;
        op.registeredAt = reg.registeredAt;
        op.unregisteredAt = reg.unregisteredAt;
        op.collateral = reg.collateral;
        Delegation memory d = _currentDelegation(pubkeyHash, reg);
        op.committer = d.committer;
        op.optedInAt = d.optedInAt;
        op.optedOutAt = d.optedOutAt;
        History storage history = histories[pubkeyHash];
        uint256 n = history.gapCount;
        // A gap of this registration starts at least a second after `register`.
        if (n != 0 && history.gaps[n - 1].from > reg.registeredAt) {
            Gap storage g = history.gaps[n - 1];
            op.undercollateralizedFrom = g.from;
            op.undercollateralizedUntil = g.until;
        }
    }

    /// @notice The identity of a key: keccak256 of its 128-byte EIP-2537 encoding.
    function pubkeyHashOf(BLS.G1Point calldata pubkey) external pure returns (bytes32) {
        return keccak256(abi.encode(pubkey));
    }

    /// @notice The message a key signs to register for `owner` (128 bytes):
    /// `abi.encode(REGISTRATION_DOMAIN, block.chainid, address(this), owner)`.
    function registrationMessage(address owner) public view returns (bytes memory) {
        return abi.encode(REGISTRATION_DOMAIN, block.chainid, address(this), owner);
    }

    /// @notice `H(registrationMessage(owner))` in G2 (the hash to curve the signature is checked against).
    function registrationMessagePoint(address owner) external view returns (BLS.G2Point memory) {
        return BLS.hashToG2(registrationMessage(owner));
    }

    // ------------------------------------------------------------------------------------------------------
    // Internal
    // ------------------------------------------------------------------------------------------------------

    /// @dev Takes up to `amount` from the key, pays half of it to the caller (the rest stays locked).
    function _payCommitmentSlash(bytes32 pubkeyHash, address committer, bytes32 key, uint256 amount)
        private
        returns (uint256 taken)
    {
        taken = _takeCollateral(pubkeyHash, amount);
        uint256 reward = taken / 2;
        emit CommitmentSlashed(
            pubkeyHash, committer, msg.sender, key, taken, reward, registrations[pubkeyHash].collateral
        );
        if (reward != 0) {
            (bool ok,) = msg.sender.call{value: reward}("");
            if (!ok) revert TransferFailed();
        }
    }

    /// @dev The signer of `hash` (URC's rules; `InvalidCommitmentSignature` otherwise).
    function _recoverCommitter(bytes32 hash, bytes calldata signature) private pure returns (address signer) {
        if (signature.length != 65) revert InvalidCommitmentSignature();
        bytes32 r = bytes32(signature[0:32]);
        bytes32 s = bytes32(signature[32:64]);
        uint8 v = uint8(signature[64]);
        if (uint256(s) > HALF_N || (v != 27 && v != 28)) revert InvalidCommitmentSignature();
        signer = ecrecover(hash, v, r, s);
        if (signer == address(0)) revert InvalidCommitmentSignature();
    }

    function _registered(bytes32 pubkeyHash) private view returns (Registration storage reg) {
        reg = registrations[pubkeyHash];
        if (reg.owner == address(0)) revert NotRegistered();
    }

    function _owned(bytes32 pubkeyHash) private view returns (Registration storage reg) {
        reg = _registered(pubkeyHash);
        if (reg.owner != msg.sender) revert NotOwner();
    }

    /// @dev The key's last delegation if it was made since the current registration (else all zero). Earlier
    /// registrations' delegations were made before their `unregister`, at least `unregistrationDelay >= 1`
    /// second before the claim that allowed this registration, so `optedInAt >= registeredAt` tells them apart.
    function _currentDelegation(bytes32 pubkeyHash, Registration storage reg)
        private
        view
        returns (Delegation memory d)
    {
        if (reg.owner == address(0)) return d;
        History storage history = histories[pubkeyHash];
        uint256 n = history.delegationCount;
        if (n != 0 && history.delegations[n - 1].optedInAt >= reg.registeredAt) d = history.delegations[n - 1];
    }

    /// @dev Index of the last delegation with `optedInAt <= latest` (`found = false` if none): the newest entry
    /// first, then a binary search of the older ones.
    function _lastDelegationBefore(History storage history, uint256 n, uint256 latest)
        private
        view
        returns (bool found, uint256 index)
    {
        if (n == 0) return (false, 0);
        mapping(uint256 => Delegation) storage list = history.delegations;
        if (list[n - 1].optedInAt <= latest) return (true, n - 1);
        // Count of entries in [0, n - 1) with optedInAt <= latest (optedInAt increases).
        uint256 lo = 0;
        uint256 hi = n - 1;
        while (lo < hi) {
            uint256 mid = (lo + hi) / 2;
            if (list[mid].optedInAt <= latest) lo = mid + 1;
            else hi = mid;
        }
        if (lo == 0) return (false, 0);
        return (true, lo - 1);
    }

    /// @dev Whether one of the key's `n > 0` periods without rights for lack of collateral covers `timestamp`:
    /// the last gap with `from <= timestamp` (newest first, then a binary search) is open or ends after
    /// `timestamp`. Gaps are disjoint and ordered, so no older one can cover it.
    function _undercollateralizedAt(History storage history, uint256 n, uint256 timestamp)
        private
        view
        returns (bool)
    {
        mapping(uint256 => Gap) storage list = history.gaps;
        Gap storage g = list[n - 1];
        if (g.from > timestamp) {
            uint256 lo = 0;
            uint256 hi = n - 1;
            while (lo < hi) {
                uint256 mid = (lo + hi) / 2;
                if (list[mid].from <= timestamp) lo = mid + 1;
                else hi = mid;
            }
            if (lo == 0) return false;
            g = list[lo - 1];
        }
        uint256 until = g.until;
        return until == 0 || timestamp < until;
    }

    /// @dev Ends the key's open gap, if any, one second from now (rights are back after this block).
    function _closeGap(bytes32 pubkeyHash) private {
        History storage history = histories[pubkeyHash];
        uint256 n = history.gapCount;
        if (n != 0) {
            Gap storage last = history.gaps[n - 1];
            if (last.until == 0) last.until = uint48(block.timestamp + 1);
        }
    }

    /// @dev The slashing hook behind `slash`: removes up to `amount` wei of the key's collateral and returns how
    /// much was removed; the caller decides where it goes. Collateral going below `minCollateral` opens a
    /// period without rights from the next second on (see `committerAt`): the answers for this block and
    /// earlier stay.
    function _takeCollateral(bytes32 pubkeyHash, uint256 amount) internal returns (uint256 taken) {
        Registration storage reg = registrations[pubkeyHash];
        uint256 collateral = reg.collateral;
        taken = amount < collateral ? amount : collateral;
        reg.collateral = collateral - taken;
        if (collateral >= minCollateral && collateral - taken < minCollateral) {
            History storage history = histories[pubkeyHash];
            uint256 n = history.gapCount;
            history.gaps[n] = Gap({from: uint48(block.timestamp + 1), until: 0});
            history.gapCount = uint64(n + 1);
        }
    }
}
