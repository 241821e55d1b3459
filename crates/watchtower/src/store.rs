//! The watched commitments: in memory with their verdicts, and durable as an append-only JSON-lines
//! file of the signed commitments (verdicts are recomputed from L1 after a restart).

use alloy_primitives::{Address, B256, U256};
use based_commitments::SignedCommitment;
use serde::Serialize;
use std::{
    collections::HashMap,
    fs::{File, OpenOptions},
    io::Write,
    path::{Path, PathBuf},
};

use crate::WatchtowerError;

/// What the watchtower knows of one promise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", rename_all_fields = "camelCase", tag = "status")]
pub enum Verdict {
    /// Not decided yet: its slot is not `challengeDelay` slots old.
    Watching,
    /// Kept: the transaction is in the promised record of proposal `proposalId`, included in L1
    /// block `l1Block` (slot `l1Slot <= slot`).
    Kept {
        /// The keeping proposal.
        proposal_id: U256,
        /// Its L1 block.
        l1_block: u64,
        /// Its L1 slot.
        l1_slot: u64,
        /// What the node's derived L2 chain did with the transaction (informational: the slasher
        /// judges inclusion, not execution).
        execution: Execution,
    },
    /// Broken (docs/protocol.md §11.3).
    Broken {
        /// Which fault.
        fault: Fault,
        /// What the watchtower did about it.
        action: Action,
    },
}

/// The outcome of a kept promise's transaction in the derived L2 chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", rename_all_fields = "camelCase", tag = "state")]
pub enum Execution {
    /// The watchtower has no view of the L2 chain (not run by a node).
    Unchecked,
    /// The node has not yet derived the L1 block that kept the promise.
    Pending,
    /// Executed in canonical L2 block `l2Block` at `index`; `success` is the receipt's status.
    Executed {
        /// The L2 block.
        l2_block: u64,
        /// Its position in the block.
        index: u64,
        /// The receipt's status (a revert is still an execution).
        success: bool,
    },
    /// Derived past the keeping L1 block and not in the L2 chain: posted as promised but skipped
    /// by execution (docs/protocol.md §5.4: wrong nonce, too little balance for its gas, fee cap
    /// below the base fee, ...). Not slashable (docs/slashing.md, limits).
    Skipped,
}

/// A broken promise's fault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", rename_all_fields = "camelCase", tag = "kind")]
pub enum Fault {
    /// Not in any promised record of a proposal of slot `<= slot`.
    NotIncluded,
    /// The slot's preconfer's committer is not the signer.
    NotOwned {
        /// The slot's committer (zero: the slot had no preconfer).
        slot_committer: Address,
    },
}

/// The watchtower's action on a broken promise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", rename_all_fields = "camelCase", tag = "state")]
pub enum Action {
    /// Reported only (no key configured, or the challenge window is over).
    Reported,
    /// A challenge is open until `deadline` (L1 seconds).
    Challenged {
        /// Defence deadline.
        deadline: u64,
    },
    /// Someone defended the challenge: the promise was kept after all.
    Defended,
    /// Slashed: `pubkeyHash` lost collateral (L1 transaction `tx`).
    Slashed {
        /// The slashed key.
        pubkey_hash: B256,
        /// The slashing transaction.
        tx: B256,
    },
    /// The last attempt failed (retried on the next tick while possible).
    Failed {
        /// Why.
        reason: String,
    },
}

/// One watched promise.
#[derive(Debug, Clone)]
pub struct Watched {
    /// The signed commitment.
    pub signed: SignedCommitment,
    /// Its signer.
    pub committer: Address,
    /// The promised slot.
    pub slot: u64,
    /// The promised transaction's hash.
    pub tx_hash: B256,
    /// The commitment digest (the challenge id).
    pub digest: B256,
    /// The verdict so far.
    pub verdict: Verdict,
}

/// The watched promises, by digest, and the file that keeps them.
#[derive(Debug)]
pub(crate) struct Store {
    path: PathBuf,
    file: File,
    by_digest: HashMap<B256, Watched>,
    order: Vec<B256>,
    max: usize,
}

impl Store {
    /// Opens (creating) `path` and loads every commitment in it. A torn last line (a crash while
    /// appending) is ignored; any other bad line refuses to start.
    pub(crate) fn open(
        path: &Path,
        max: usize,
    ) -> Result<(Self, Vec<SignedCommitment>), WatchtowerError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| WatchtowerError::Store(e.to_string()))?;
        }
        let mut loaded = Vec::new();
        // Bytes to keep: everything but a torn last line.
        let mut keep = None;
        if path.exists() {
            let text =
                std::fs::read_to_string(path).map_err(|e| WatchtowerError::Store(e.to_string()))?;
            let lines: Vec<&str> = text.split('\n').collect();
            let last = lines.len().saturating_sub(1);
            let mut offset = 0usize;
            for (i, line) in lines.iter().enumerate() {
                let start = offset;
                offset = offset.saturating_add(line.len()).saturating_add(1);
                if line.trim().is_empty() {
                    continue;
                }
                match serde_json::from_str::<SignedCommitment>(line) {
                    Ok(c) => loaded.push(c),
                    // Only the unterminated last line can be torn (a crash while appending).
                    Err(_) if i == last => {
                        tracing::warn!(target: "watchtower", line = i, "dropping a torn last line");
                        keep = Some(start);
                    }
                    Err(e) => {
                        return Err(WatchtowerError::Store(format!(
                            "{}: line {}: {e}",
                            path.display(),
                            i.saturating_add(1)
                        )));
                    }
                }
            }
            if keep.is_none() && !text.is_empty() && !text.ends_with('\n') {
                // A complete but unterminated last record: terminate it before appending.
                OpenOptions::new()
                    .append(true)
                    .open(path)
                    .and_then(|mut f| f.write_all(b"\n"))
                    .map_err(|e| WatchtowerError::Store(e.to_string()))?;
            }
        }
        if let Some(len) = keep {
            let f = OpenOptions::new()
                .write(true)
                .open(path)
                .map_err(|e| WatchtowerError::Store(e.to_string()))?;
            f.set_len(u64::try_from(len).unwrap_or(u64::MAX))
                .and_then(|()| f.sync_data())
                .map_err(|e| WatchtowerError::Store(e.to_string()))?;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| WatchtowerError::Store(e.to_string()))?;
        let store = Self {
            path: path.to_path_buf(),
            file,
            by_digest: HashMap::new(),
            order: Vec::new(),
            max,
        };
        Ok((store, loaded))
    }

    /// Adds `watched` (in memory; `persist` also appends it durably). `false` if it was already
    /// watched.
    pub(crate) fn insert(
        &mut self,
        watched: Watched,
        persist: bool,
    ) -> Result<bool, WatchtowerError> {
        if self.by_digest.contains_key(&watched.digest) {
            return Ok(false);
        }
        if self.by_digest.len() >= self.max {
            return Err(WatchtowerError::Full(self.max));
        }
        if persist {
            let mut line = serde_json::to_string(&watched.signed)
                .map_err(|e| WatchtowerError::Store(e.to_string()))?;
            line.push('\n');
            self.file
                .write_all(line.as_bytes())
                .and_then(|()| self.file.sync_data())
                .map_err(|e| WatchtowerError::Store(format!("{}: {e}", self.path.display())))?;
        }
        self.order.push(watched.digest);
        self.by_digest.insert(watched.digest, watched);
        Ok(true)
    }

    /// The watched promise `digest`.
    pub(crate) fn get_mut(&mut self, digest: &B256) -> Option<&mut Watched> {
        self.by_digest.get_mut(digest)
    }

    /// Every watched promise, in the order they were added.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Watched> {
        self.order.iter().filter_map(|d| self.by_digest.get(d))
    }

    /// Digests in the order they were added.
    pub(crate) fn digests(&self) -> Vec<B256> {
        self.order.clone()
    }

    /// Number of watched promises.
    pub(crate) fn len(&self) -> usize {
        self.order.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::Bytes;
    use alloy_signer_local::PrivateKeySigner;
    use based_commitments::{Commitment, InclusionPayload};

    fn watched(n: u8) -> Watched {
        let key = PrivateKeySigner::from_bytes(&B256::repeat_byte(7)).unwrap();
        let payload = InclusionPayload { slot: u64::from(n), signed_tx: Bytes::from(vec![2, n]) };
        let request = payload.into_request(Address::repeat_byte(0x55));
        let signed = Commitment::for_request(&request).sign(&key).unwrap();
        Watched {
            digest: signed.commitment.digest(),
            committer: key.address(),
            slot: u64::from(n),
            tx_hash: alloy_primitives::keccak256([2, n]),
            verdict: Verdict::Watching,
            signed,
        }
    }

    #[test]
    fn persists_reloads_dedups_and_caps() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w").join("commitments.jsonl");
        let (mut store, loaded) = Store::open(&path, 2).unwrap();
        assert!(loaded.is_empty());
        assert!(store.insert(watched(1), true).unwrap());
        assert!(!store.insert(watched(1), true).unwrap(), "a repeat is not added twice");
        assert!(store.insert(watched(2), true).unwrap());
        assert!(matches!(store.insert(watched(3), true), Err(WatchtowerError::Full(2))));
        drop(store);

        let (_, loaded) = Store::open(&path, 10).unwrap();
        assert_eq!(loaded, vec![watched(1).signed, watched(2).signed]);

        // A torn last line (crash while appending) is ignored; damage elsewhere refuses to start.
        std::fs::write(
            &path,
            format!("{}\n{{\"commitment\":", std::fs::read_to_string(&path).unwrap()),
        )
        .unwrap();
        let (mut store, loaded) = Store::open(&path, 10).unwrap();
        assert_eq!(loaded.len(), 2);
        // The torn bytes were cut: the next record appends cleanly.
        store.insert(watched(3), true).unwrap();
        drop(store);
        let (_, loaded) = Store::open(&path, 10).unwrap();
        assert_eq!(loaded, vec![watched(1).signed, watched(2).signed, watched(3).signed]);
        std::fs::write(&path, "garbage\n{}\n").unwrap();
        assert!(matches!(Store::open(&path, 10), Err(WatchtowerError::Store(_))));
    }
}
