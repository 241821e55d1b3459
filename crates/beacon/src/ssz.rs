//! SSZ Merkle branches of a Fulu `BeaconState` (the evidence of `Lookahead.proveIncorrectLookahead`,
//! docs/lookahead.md §5): from the state root to a chunk of `proposer_lookahead` (EIP-7917) and to
//! `validators[index].pubkey`, and the `BeaconBlockHeader` whose root the EIP-4788 contract returns.
//!
//! Generalized indices (root = 1, children of `g` are `2g`, `2g + 1`):
//! - `BeaconState` (Fulu) has 38 fields, padded to 64 leaves (depth 6): field `f` is `64 + f`.
//! - `proposer_lookahead` is field 37, a `Vector[uint64, 2 * SLOTS_PER_EPOCH]` (MIN_SEED_LOOKAHEAD = 1),
//!   4 values per chunk, so [`lookahead_depth`] levels; position `i`'s chunk is
//!   `(64 + 37) << depth | i / 4` (mainnet: depth 4, 10 siblings).
//! - `validators` is field 11, a `List[Validator, 2^40]`: its data root is the left child `(64 + 11) * 2`
//!   (the right one is the length), then depth 40 to `validators[index]`, then the 8-field `Validator`
//!   (depth 3) to `pubkey` (field 0): `((150 << 40) | index) << 3`, 50 siblings.
//!
//! [`StateProver`] holds the parts of a state the proofs need (the other fields as roots) and builds
//! the branches with its own sparse Merkle tree; its roots agree with `tree_hash` on the same values
//! (tested against a `tree_hash_derive` state below). [`verify_branch`] is the contract's check.

use alloy_primitives::B256;
use sha2::{Digest, Sha256};
use tree_hash::TreeHash;
use tree_hash_derive::TreeHash;

/// Number of `BeaconState` fields in Fulu.
pub const BEACON_STATE_FIELDS: usize = 38;
/// Depth of the `BeaconState` container (38 fields padded to 64 leaves).
pub const BEACON_STATE_DEPTH: u32 = 6;
/// Field index of `validators`.
pub const VALIDATORS_FIELD: usize = 11;
/// Field index of `proposer_lookahead` (EIP-7917, the last Fulu field).
pub const PROPOSER_LOOKAHEAD_FIELD: usize = 37;
/// `log2(VALIDATOR_REGISTRY_LIMIT)`.
pub const VALIDATOR_REGISTRY_DEPTH: u32 = 40;
/// Depth of the `Validator` container (8 fields).
pub const VALIDATOR_DEPTH: u32 = 3;

/// Errors of proof construction.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The state has not the Fulu field count.
    #[error("expected {BEACON_STATE_FIELDS} field roots, got {0}")]
    FieldCount(usize),
    /// The `proposer_lookahead` length is not `2 * slots_per_epoch`.
    #[error("proposer_lookahead has {got} values, expected {expected}")]
    LookaheadLength {
        /// `2 * slots_per_epoch`.
        expected: usize,
        /// Actual length.
        got: usize,
    },
    /// A position or validator index out of range.
    #[error("index {0} out of range")]
    OutOfRange(u64),
}

/// `sha256(a || b)`.
pub fn hash_pair(a: &B256, b: &B256) -> B256 {
    let mut h = Sha256::new();
    h.update(a);
    h.update(b);
    B256::from_slice(&h.finalize())
}

/// The root of a subtree of depth `d` with zero leaves (`zero_hash(0) = 0`).
pub fn zero_hash(d: u32) -> B256 {
    (0..d).fold(B256::ZERO, |z, _| hash_pair(&z, &z))
}

/// Root of a depth-`depth` tree with `leaves` on the left (zero-padded) and the branch of leaf
/// `index` (siblings from the leaf up). `index` may be past the leaves (a zero leaf).
pub fn merkle_branch(leaves: &[B256], depth: u32, index: u64) -> (B256, Vec<B256>) {
    let mut level: Vec<B256> = leaves.to_vec();
    let mut zero = B256::ZERO;
    let mut idx = index;
    let mut branch = Vec::with_capacity(depth as usize);
    for _ in 0..depth {
        let sibling = usize::try_from(idx ^ 1).ok().and_then(|i| level.get(i)).copied();
        branch.push(sibling.unwrap_or(zero));
        level = level
            .chunks(2)
            .map(|pair| match pair {
                [l, r] => hash_pair(l, r),
                [l] => hash_pair(l, &zero),
                _ => zero,
            })
            .collect();
        zero = hash_pair(&zero, &zero);
        idx >>= 1;
    }
    (level.first().copied().unwrap_or(zero), branch)
}

/// Whether `branch` proves `leaf` at generalized index `gindex` under `root` (`SSZ.verify`).
pub fn verify_branch(root: B256, leaf: B256, gindex: u128, branch: &[B256]) -> bool {
    if gindex == 0 || branch.len() as u32 != gindex.ilog2() {
        return false;
    }
    let mut node = leaf;
    let mut g = gindex;
    for sibling in branch {
        node = if g & 1 == 1 { hash_pair(sibling, &node) } else { hash_pair(&node, sibling) };
        g >>= 1;
    }
    node == root
}

/// Depth of `proposer_lookahead` (`2 * slots_per_epoch` `uint64`s, 4 per chunk), as `Lookahead.lookaheadDepth`.
pub const fn lookahead_depth(slots_per_epoch: u64) -> u32 {
    let chunks = slots_per_epoch.saturating_mul(2).div_ceil(4);
    // ceil(log2(chunks)), 0 for chunks <= 1.
    match chunks {
        0 | 1 => 0,
        n => n.saturating_sub(1).ilog2().saturating_add(1),
    }
}

/// Generalized index of the chunk holding `proposer_lookahead[position]`.
pub const fn proposer_lookahead_gindex(slots_per_epoch: u64, position: u64) -> u128 {
    let field = (1u128 << BEACON_STATE_DEPTH) | PROPOSER_LOOKAHEAD_FIELD as u128;
    (field << lookahead_depth(slots_per_epoch)) | (position / 4) as u128
}

/// Generalized index of `validators[index].pubkey` (`index < 2^40`).
pub const fn validator_pubkey_gindex(index: u64) -> u128 {
    let data = ((1u128 << BEACON_STATE_DEPTH) | VALIDATORS_FIELD as u128) << 1;
    ((data << VALIDATOR_REGISTRY_DEPTH) | index as u128) << VALIDATOR_DEPTH
}

/// A beacon block header (`hash_tree_root` = the beacon block root).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, TreeHash, ssz_derive::Encode, ssz_derive::Decode,
)]
pub struct BeaconBlockHeader {
    /// Slot.
    pub slot: u64,
    /// Proposer index.
    pub proposer_index: u64,
    /// Parent block root.
    pub parent_root: B256,
    /// Post-state root.
    pub state_root: B256,
    /// Body root.
    pub body_root: B256,
}

impl BeaconBlockHeader {
    /// The beacon block root.
    pub fn root(&self) -> B256 {
        self.tree_hash_root()
    }
}

/// A beacon-chain `Validator` record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, TreeHash, ssz_derive::Encode, ssz_derive::Decode)]
pub struct Validator {
    /// Compressed BLS public key.
    pub pubkey: [u8; 48],
    /// Withdrawal credentials.
    pub withdrawal_credentials: B256,
    /// Effective balance (gwei).
    pub effective_balance: u64,
    /// Slashed.
    pub slashed: bool,
    /// Activation eligibility epoch.
    pub activation_eligibility_epoch: u64,
    /// Activation epoch.
    pub activation_epoch: u64,
    /// Exit epoch.
    pub exit_epoch: u64,
    /// Withdrawable epoch.
    pub withdrawable_epoch: u64,
}

impl Validator {
    /// An active validator with key `pubkey` (32 ETH, no exit).
    pub const fn active(pubkey: [u8; 48]) -> Self {
        Self {
            pubkey,
            withdrawal_credentials: B256::ZERO,
            effective_balance: 32_000_000_000,
            slashed: false,
            activation_eligibility_epoch: 0,
            activation_epoch: 0,
            exit_epoch: u64::MAX,
            withdrawable_epoch: u64::MAX,
        }
    }

    /// Roots of the 8 fields (the leaves of its container).
    fn field_roots(&self) -> [B256; 8] {
        [
            self.pubkey.tree_hash_root(),
            self.withdrawal_credentials,
            self.effective_balance.tree_hash_root(),
            self.slashed.tree_hash_root(),
            self.activation_eligibility_epoch.tree_hash_root(),
            self.activation_epoch.tree_hash_root(),
            self.exit_epoch.tree_hash_root(),
            self.withdrawable_epoch.tree_hash_root(),
        ]
    }
}

/// The chunks of a packed `uint64` vector (4 little-endian values per chunk, zero-padded).
pub fn pack_u64(values: &[u64]) -> Vec<B256> {
    values
        .chunks(4)
        .map(|c| {
            let mut chunk = [0u8; 32];
            for (dst, v) in chunk.chunks_mut(8).zip(c) {
                dst.copy_from_slice(&v.to_le_bytes());
            }
            B256::from(chunk)
        })
        .collect()
}

/// `hash_tree_root` of `validators` as a `List[Validator, 2^40]`, from the validators' own roots.
pub fn validators_root(validator_roots: &[B256]) -> B256 {
    let (data_root, _) = merkle_branch(validator_roots, VALIDATOR_REGISTRY_DEPTH, 0);
    tree_hash::mix_in_length(&data_root, validator_roots.len())
}

/// `hash_tree_root` of `proposer_lookahead` (`Vector[uint64, 2 * slots_per_epoch]`).
pub fn lookahead_root(proposer_lookahead: &[u64], slots_per_epoch: u64) -> B256 {
    merkle_branch(&pack_u64(proposer_lookahead), lookahead_depth(slots_per_epoch), 0).0
}

/// A branch from a `BeaconState` root to the chunk holding a slot's proposer index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LookaheadProof {
    /// The chunk (4 packed validator indices).
    pub chunk: B256,
    /// The proven validator index.
    pub validator_index: u64,
    /// Siblings from the chunk up to the state root.
    pub branch: Vec<B256>,
}

/// A branch from a `BeaconState` root to `validators[index].pubkey`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PubkeyProof {
    /// The compressed key.
    pub pubkey: [u8; 48],
    /// Siblings from the key's root up to the state root.
    pub branch: Vec<B256>,
}

/// The parts of a Fulu `BeaconState` the contest proves, with every other field given by its root.
#[derive(Debug, Clone)]
pub struct StateProver {
    field_roots: Vec<B256>,
    slots_per_epoch: u64,
    proposer_lookahead: Vec<u64>,
    validators: Vec<Validator>,
    /// `hash_tree_root` of each validator (the leaves of the `validators` list), computed once.
    validator_roots: Vec<B256>,
}

impl StateProver {
    /// `field_roots` are the 38 field roots of the state; those of `validators` (11) and
    /// `proposer_lookahead` (37) are recomputed from `validators` and `proposer_lookahead`.
    pub fn new(
        mut field_roots: Vec<B256>,
        slots_per_epoch: u64,
        proposer_lookahead: Vec<u64>,
        validators: Vec<Validator>,
    ) -> Result<Self, ProofError> {
        if field_roots.len() != BEACON_STATE_FIELDS {
            return Err(ProofError::FieldCount(field_roots.len()));
        }
        let expected = usize::try_from(slots_per_epoch.saturating_mul(2)).unwrap_or(usize::MAX);
        if proposer_lookahead.len() != expected {
            return Err(ProofError::LookaheadLength { expected, got: proposer_lookahead.len() });
        }
        let validator_roots: Vec<B256> = validators.iter().map(TreeHash::tree_hash_root).collect();
        if let Some(r) = field_roots.get_mut(VALIDATORS_FIELD) {
            *r = validators_root(&validator_roots);
        }
        if let Some(r) = field_roots.get_mut(PROPOSER_LOOKAHEAD_FIELD) {
            *r = lookahead_root(&proposer_lookahead, slots_per_epoch);
        }
        Ok(Self { field_roots, slots_per_epoch, proposer_lookahead, validators, validator_roots })
    }

    /// `SLOTS_PER_EPOCH` of the state.
    pub const fn slots_per_epoch(&self) -> u64 {
        self.slots_per_epoch
    }

    /// The state root.
    pub fn state_root(&self) -> B256 {
        merkle_branch(&self.field_roots, BEACON_STATE_DEPTH, 0).0
    }

    /// The proposer index at `proposer_lookahead[position]` and its branch (`position` in
    /// `0..2 * slots_per_epoch`: the state's epoch, then the next one).
    pub fn lookahead_proof(&self, position: u64) -> Result<LookaheadProof, ProofError> {
        let validator_index = usize::try_from(position)
            .ok()
            .and_then(|p| self.proposer_lookahead.get(p))
            .copied()
            .ok_or(ProofError::OutOfRange(position))?;
        let chunks = pack_u64(&self.proposer_lookahead);
        let chunk_index = position / 4;
        let (_, mut branch) =
            merkle_branch(&chunks, lookahead_depth(self.slots_per_epoch), chunk_index);
        let chunk = usize::try_from(chunk_index)
            .ok()
            .and_then(|i| chunks.get(i))
            .copied()
            .ok_or(ProofError::OutOfRange(position))?;
        let field = PROPOSER_LOOKAHEAD_FIELD as u64;
        branch.extend(merkle_branch(&self.field_roots, BEACON_STATE_DEPTH, field).1);
        Ok(LookaheadProof { chunk, validator_index, branch })
    }

    /// `validators[index].pubkey` and its branch.
    pub fn pubkey_proof(&self, index: u64) -> Result<PubkeyProof, ProofError> {
        let validator = usize::try_from(index)
            .ok()
            .and_then(|i| self.validators.get(i))
            .ok_or(ProofError::OutOfRange(index))?;
        let (_, mut branch) = merkle_branch(&validator.field_roots(), VALIDATOR_DEPTH, 0);
        branch.extend(merkle_branch(&self.validator_roots, VALIDATOR_REGISTRY_DEPTH, index).1);
        let mut length = [0u8; 32];
        length[..8].copy_from_slice(&(self.validators.len() as u64).to_le_bytes());
        branch.push(B256::from(length));
        let field = VALIDATORS_FIELD as u64;
        branch.extend(merkle_branch(&self.field_roots, BEACON_STATE_DEPTH, field).1);
        Ok(PubkeyProof { pubkey: validator.pubkey, branch })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tree_hash::{Hash256, MerkleHasher, PackedEncoding, TreeHashType, mix_in_length};

    /// `Vector[uint64, N]` hashed with `tree_hash` (independent of [`merkle_branch`]).
    #[derive(Debug, Clone)]
    struct U64Vector(Vec<u64>);

    impl TreeHash for U64Vector {
        fn tree_hash_type() -> TreeHashType {
            TreeHashType::Vector
        }
        fn tree_hash_packed_encoding(&self) -> PackedEncoding {
            unreachable!()
        }
        fn tree_hash_packing_factor() -> usize {
            unreachable!()
        }
        fn tree_hash_root(&self) -> Hash256 {
            let bytes: Vec<u8> = self.0.iter().flat_map(|v| v.to_le_bytes()).collect();
            tree_hash::merkle_root(&bytes, self.0.len().div_ceil(4))
        }
    }

    /// `List[Validator, 2^40]` hashed with `tree_hash`.
    #[derive(Debug, Clone)]
    struct ValidatorList(Vec<Validator>);

    impl TreeHash for ValidatorList {
        fn tree_hash_type() -> TreeHashType {
            TreeHashType::List
        }
        fn tree_hash_packed_encoding(&self) -> PackedEncoding {
            unreachable!()
        }
        fn tree_hash_packing_factor() -> usize {
            unreachable!()
        }
        fn tree_hash_root(&self) -> Hash256 {
            let mut hasher = MerkleHasher::with_leaves(1 << 40);
            for v in &self.0 {
                hasher.write(v.tree_hash_root().as_slice()).unwrap();
            }
            mix_in_length(&hasher.finish().unwrap(), self.0.len())
        }
    }

    /// A Fulu `BeaconState` shape: the real 38 field positions; fields other than `validators`
    /// and `proposer_lookahead` are stand-in roots.
    #[derive(Debug, Clone, TreeHash)]
    struct TestBeaconState {
        f00: B256,
        f01: B256,
        f02: B256,
        f03: B256,
        f04: B256,
        f05: B256,
        f06: B256,
        f07: B256,
        f08: B256,
        f09: B256,
        f10: B256,
        validators: ValidatorList,
        f12: B256,
        f13: B256,
        f14: B256,
        f15: B256,
        f16: B256,
        f17: B256,
        f18: B256,
        f19: B256,
        f20: B256,
        f21: B256,
        f22: B256,
        f23: B256,
        f24: B256,
        f25: B256,
        f26: B256,
        f27: B256,
        f28: B256,
        f29: B256,
        f30: B256,
        f31: B256,
        f32: B256,
        f33: B256,
        f34: B256,
        f35: B256,
        f36: B256,
        proposer_lookahead: U64Vector,
    }

    fn roots() -> Vec<B256> {
        (0..38u8).map(|i| B256::repeat_byte(i.wrapping_add(1))).collect()
    }

    fn test_state(r: &[B256], validators: Vec<Validator>, lookahead: Vec<u64>) -> TestBeaconState {
        TestBeaconState {
            f00: r[0],
            f01: r[1],
            f02: r[2],
            f03: r[3],
            f04: r[4],
            f05: r[5],
            f06: r[6],
            f07: r[7],
            f08: r[8],
            f09: r[9],
            f10: r[10],
            validators: ValidatorList(validators),
            f12: r[12],
            f13: r[13],
            f14: r[14],
            f15: r[15],
            f16: r[16],
            f17: r[17],
            f18: r[18],
            f19: r[19],
            f20: r[20],
            f21: r[21],
            f22: r[22],
            f23: r[23],
            f24: r[24],
            f25: r[25],
            f26: r[26],
            f27: r[27],
            f28: r[28],
            f29: r[29],
            f30: r[30],
            f31: r[31],
            f32: r[32],
            f33: r[33],
            f34: r[34],
            f35: r[35],
            f36: r[36],
            proposer_lookahead: U64Vector(lookahead),
        }
    }

    fn validators(n: u8) -> Vec<Validator> {
        (0..n)
            .map(|i| {
                let sk = blst::min_pk::SecretKey::key_gen(&[i; 32], &[]).unwrap();
                Validator::active(sk.sk_to_pk().compress())
            })
            .collect()
    }

    #[test]
    fn gindices_match_the_fulu_layout() {
        assert_eq!(lookahead_depth(32), 4);
        assert_eq!(lookahead_depth(8), 2);
        assert_eq!(lookahead_depth(1), 0);
        assert_eq!(lookahead_depth(256), 7);
        // Mainnet: (64 + 37) * 16 + i / 4, 10 siblings.
        assert_eq!(proposer_lookahead_gindex(32, 45), 101 * 16 + 11);
        assert_eq!(proposer_lookahead_gindex(32, 45).ilog2(), 10);
        assert_eq!(validator_pubkey_gindex(7), ((150u128 << 40) + 7) * 8);
        assert_eq!(validator_pubkey_gindex(7).ilog2(), 50);
    }

    #[test]
    fn proofs_verify_against_the_tree_hash_root() {
        for spe in [8u64, 32] {
            let vals = validators(11);
            let lookahead: Vec<u64> = (0..2 * spe).map(|i| (i * 7) % 11).collect();
            let r = roots();
            let state = test_state(&r, vals.clone(), lookahead.clone());
            let prover = StateProver::new(r, spe, lookahead.clone(), vals.clone()).unwrap();
            let root = state.tree_hash_root();
            assert_eq!(prover.state_root(), root, "slots per epoch {spe}");
            for position in 0..2 * spe {
                let p = prover.lookahead_proof(position).unwrap();
                assert_eq!(p.validator_index, lookahead[position as usize]);
                let g = proposer_lookahead_gindex(spe, position);
                assert!(verify_branch(root, p.chunk, g, &p.branch));
                let k = prover.pubkey_proof(p.validator_index).unwrap();
                assert_eq!(k.pubkey, vals[p.validator_index as usize].pubkey);
                let leaf = k.pubkey.tree_hash_root();
                let g = validator_pubkey_gindex(p.validator_index);
                assert!(verify_branch(root, leaf, g, &k.branch));
                assert!(!verify_branch(root, leaf, validator_pubkey_gindex(11), &k.branch));
            }
        }
        assert!(StateProver::new(roots(), 8, vec![0; 15], vec![]).is_err());
        assert!(StateProver::new(vec![B256::ZERO; 37], 8, vec![0; 16], vec![]).is_err());
    }

    #[test]
    fn header_root_is_the_ssz_container_root() {
        let h = BeaconBlockHeader {
            slot: 3,
            proposer_index: 9,
            parent_root: B256::repeat_byte(1),
            state_root: B256::repeat_byte(2),
            body_root: B256::repeat_byte(3),
        };
        let leaves = [
            3u64.tree_hash_root(),
            9u64.tree_hash_root(),
            h.parent_root,
            h.state_root,
            h.body_root,
        ];
        assert_eq!(h.root(), merkle_branch(&leaves, 3, 0).0);
        assert_eq!(zero_hash(1), hash_pair(&B256::ZERO, &B256::ZERO));
    }
}
