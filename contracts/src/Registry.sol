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
/// and unregistration change `committerAt` only after a delay, so the committer of a slot whose lookahead is
/// already published cannot change. History is not kept: `committerAt` answers from the current record, which
/// is exact for any time at or after the key's last state change. Signed commitments are slashed URC-style
/// through `slashCommitment`, judged by the immutable `commitmentSlasher` (an `ISlasher`).
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

    /// @notice The record of one registered validator key.
    struct Operator {
        /// Owner: may opt in/out, unregister, claim. Zero means "not registered".
        address owner;
        /// Timestamp of `register`.
        uint48 registeredAt;
        /// Timestamp of `unregister`, 0 while registered.
        uint48 unregisteredAt;
        /// The delegated committer (ECDSA address); zero if never opted in.
        address committer;
        /// Timestamp of the last `optIn`, 0 if never.
        uint48 optedInAt;
        /// Timestamp of the `optOut` following the last `optIn`, 0 if none.
        uint48 optedOutAt;
        /// Collateral held for this key (wei).
        uint256 collateral;
        /// Start of the last period without commit rights for lack of collateral: when a slash left it below
        /// `minCollateral` (0 = never).
        uint48 undercollateralizedFrom;
        /// End of that period: when `addCollateral` brought it back to `minCollateral` (0 = still open).
        uint48 undercollateralizedUntil;
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

    mapping(bytes32 pubkeyHash => Operator) private operators;
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

    /// @notice `unregistrationDelay < optOutDelay`.
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
    /// @notice `optOut` without an active delegation.
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
        if (config.unregistrationDelay < config.optOutDelay) revert InvalidConfig();
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

    /// @notice Registers the validator key `pubkey` for `owner`, with `msg.value` wei of collateral.
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
        Operator storage op = operators[pubkeyHash];
        if (op.owner != address(0)) revert AlreadyRegistered();
        if (!BLS.verify(pk, signature, registrationMessage(owner))) revert InvalidSignature();
        op.owner = owner;
        op.registeredAt = uint48(block.timestamp);
        op.collateral = msg.value;
        emit Registered(pubkeyHash, owner, pk, msg.value);
    }

    /// @notice Adds `msg.value` wei to a registered, not unregistered key's collateral (anyone may).
    function addCollateral(bytes32 pubkeyHash) external payable {
        if (msg.value == 0) revert NoValue();
        Operator storage op = _registered(pubkeyHash);
        if (op.unregisteredAt != 0) revert AlreadyUnregistered();
        uint256 collateral = op.collateral + msg.value;
        op.collateral = collateral;
        if (op.undercollateralizedFrom != 0 && op.undercollateralizedUntil == 0 && collateral >= minCollateral) {
            op.undercollateralizedUntil = uint48(block.timestamp);
        }
        emit CollateralAdded(pubkeyHash, msg.value, collateral);
    }

    /// @notice Starts unregistration: commit rights end `optOutDelay` seconds from now, the collateral is
    /// claimable `unregistrationDelay` seconds from now. Owner only.
    function unregister(bytes32 pubkeyHash) external {
        Operator storage op = _owned(pubkeyHash);
        if (op.unregisteredAt != 0) revert AlreadyUnregistered();
        op.unregisteredAt = uint48(block.timestamp);
        emit Unregistered(pubkeyHash, block.timestamp + optOutDelay, block.timestamp + unregistrationDelay);
    }

    /// @notice Pays the whole collateral back to the owner and deletes the record (the key may register
    /// again). Owner only; at least `unregistrationDelay` seconds after `unregister`.
    function claimCollateral(bytes32 pubkeyHash) external {
        Operator storage op = _owned(pubkeyHash);
        uint256 unregisteredAt = op.unregisteredAt;
        if (unregisteredAt == 0) revert NotUnregistered();
        if (block.timestamp < unregisteredAt + unregistrationDelay) revert EarlyClaim();
        address owner = op.owner;
        uint256 amount = op.collateral;
        delete operators[pubkeyHash];
        emit CollateralClaimed(pubkeyHash, owner, amount);
        (bool ok,) = owner.call{value: amount}("");
        if (!ok) revert TransferFailed();
    }

    // ------------------------------------------------------------------------------------------------------
    // Delegation
    // ------------------------------------------------------------------------------------------------------

    /// @notice Delegates commit rights of the key to `committer`, effective `optInDelay` seconds from now.
    /// Owner only; not while unregistered, nor while a previous delegation is active or its opt-out pending.
    function optIn(bytes32 pubkeyHash, address committer) external {
        if (committer == address(0)) revert InvalidCommitter();
        Operator storage op = _owned(pubkeyHash);
        if (op.unregisteredAt != 0) revert AlreadyUnregistered();
        if (op.optedInAt != 0) {
            uint256 optedOutAt = op.optedOutAt;
            if (optedOutAt == 0 || block.timestamp < optedOutAt + optOutDelay) revert AlreadyOptedIn();
        }
        op.committer = committer;
        op.optedInAt = uint48(block.timestamp);
        op.optedOutAt = 0;
        emit OptedIn(pubkeyHash, committer, block.timestamp + optInDelay);
    }

    /// @notice Ends the delegation `optOutDelay` seconds from now. Owner only.
    function optOut(bytes32 pubkeyHash) external {
        Operator storage op = _owned(pubkeyHash);
        if (op.optedInAt == 0 || op.optedOutAt != 0) revert NotOptedIn();
        op.optedOutAt = uint48(block.timestamp);
        emit OptedOut(pubkeyHash, op.committer, block.timestamp + optOutDelay);
    }

    // ------------------------------------------------------------------------------------------------------
    // Slashing
    // ------------------------------------------------------------------------------------------------------

    /// @notice Takes up to `amount` wei of the key's collateral (all of it if less) and pays it to `recipient`;
    /// `recipient == 0` keeps it locked here for good (burned). `slasher` only. Collateral below
    /// `minCollateral` removes the key's commit rights at once (`committerAt`). Works on any record state
    /// (also after `unregister`, until `claimCollateral`); a key without a record loses nothing.
    /// @return taken The wei taken.
    function slash(bytes32 pubkeyHash, uint256 amount, address recipient) external returns (uint256 taken) {
        if (msg.sender != slasher || slasher == address(0)) revert NotSlasher();
        taken = _takeCollateral(pubkeyHash, amount);
        emit Slashed(pubkeyHash, recipient, taken, operators[pubkeyHash].collateral);
        if (recipient != address(0) && taken != 0) {
            (bool ok,) = recipient.call{value: taken}("");
            if (!ok) revert TransferFailed();
        }
    }

    /// @notice Slashes the key `pubkeyHash` for a signed commitment (URC's `slashCommitment`): anyone may call.
    /// Requires `commitment.slasher == commitmentSlasher != 0`; recovers the committer from `signature` over
    /// `keccak256(abi.encode(commitment))` (65 bytes, low `s`, `v` in {27, 28}); refuses a commitment that
    /// already slashed this key; calls `commitmentSlasher.slash(delegation, commitment, committer, evidence,
    /// msg.sender)` with `delegation = {committer: the key's stored committer, metadata: abi.encode(pubkeyHash)}`
    /// (BLS keys and slot zero), which reverts unless the commitment is slashable; takes up to the returned
    /// amount from the key's collateral and pays half of what it took to the caller; the rest stays locked here
    /// (burned).
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
        delegation.committer = operators[pubkeyHash].committer;
        delegation.metadata = abi.encode(pubkeyHash);
        uint256 amount = ISlasher(judge).slash(delegation, commitment, committer, evidence, msg.sender);
        taken = _payCommitmentSlash(pubkeyHash, committer, key, amount);
    }

    // ------------------------------------------------------------------------------------------------------
    // Views
    // ------------------------------------------------------------------------------------------------------

    /// @notice The committer with commit rights for the key at `timestamp`, or the zero address.
    /// @dev Non-zero iff the key is registered, opted in with `optedInAt + optInDelay <= timestamp`, neither an
    /// opt-out nor `unregister` took effect by `timestamp` (effect = action time + `optOutDelay`), and
    /// `timestamp` is not in the last period the key held less than `minCollateral` (from the slash that took it
    /// below until the top-up that restored it). A slash therefore never changes the answer for times before it:
    /// the preconfer of a past slot, which slashing judges, stays what it was.
    function committerAt(bytes32 pubkeyHash, uint256 timestamp) public view returns (address) {
        Operator storage op = operators[pubkeyHash];
        if (op.owner == address(0)) return address(0);
        uint256 from = op.undercollateralizedFrom;
        uint256 until = op.undercollateralizedUntil;
        if (op.collateral < minCollateral && from == 0) return address(0);
        if (from != 0 && timestamp >= from && (until == 0 || timestamp < until)) return address(0);
        uint256 optedInAt = op.optedInAt;
        if (optedInAt == 0 || timestamp < optedInAt + optInDelay) return address(0);
        uint256 optedOutAt = op.optedOutAt;
        if (optedOutAt != 0 && timestamp >= optedOutAt + optOutDelay) return address(0);
        uint256 unregisteredAt = op.unregisteredAt;
        if (unregisteredAt != 0 && timestamp >= unregisteredAt + optOutDelay) return address(0);
        return op.committer;
    }

    /// @notice `committerAt(pubkeyHash, block.timestamp)`.
    function currentCommitter(bytes32 pubkeyHash) external view returns (address) {
        return committerAt(pubkeyHash, block.timestamp);
    }

    /// @notice The record of a key (all zero if not registered).
    function getOperator(bytes32 pubkeyHash) external view returns (Operator memory) {
        return operators[pubkeyHash];
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
            pubkeyHash, committer, msg.sender, key, taken, reward, operators[pubkeyHash].collateral
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

    function _registered(bytes32 pubkeyHash) private view returns (Operator storage op) {
        op = operators[pubkeyHash];
        if (op.owner == address(0)) revert NotRegistered();
    }

    function _owned(bytes32 pubkeyHash) private view returns (Operator storage op) {
        op = _registered(pubkeyHash);
        if (op.owner != msg.sender) revert NotOwner();
    }

    /// @dev The slashing hook behind `slash`: removes up to `amount` wei of the key's collateral and returns how
    /// much was removed; the caller decides where it goes. Collateral below
    /// `minCollateral` removes commit rights immediately (see `committerAt`).
    function _takeCollateral(bytes32 pubkeyHash, uint256 amount) internal returns (uint256 taken) {
        Operator storage op = operators[pubkeyHash];
        uint256 collateral = op.collateral;
        taken = amount < collateral ? amount : collateral;
        op.collateral = collateral - taken;
        if (collateral >= minCollateral && collateral - taken < minCollateral) {
            // Rights end now (not retroactively): a new period without rights starts.
            op.undercollateralizedFrom = uint48(block.timestamp);
            op.undercollateralizedUntil = 0;
        }
    }
}
