//! Test-only fault injection: named points around every store commit of the driver, where a test
//! can make the node die as a power loss or `SIGKILL` would (docs/node.md, "Crash safety").
//!
//! A node process is armed with the environment variable [`ENV`]`=<point>:<n>` (a
//! [`CrashPoint::name`] and a count from 1): the `n`th time the driver reaches that point the
//! process calls [`std::process::abort`] (no destructors, no flush of anything not committed).
//!
//! # Why `debug_assertions` and not a cargo feature
//!
//! `make test` builds the `based` binary once with `cargo build -p based --locked` (no features)
//! and runs the workspace tests with `--all-features`: a feature enabled for the tests would not
//! reach the binary the end-to-end scenarios start as a child process, and enabling it for that
//! build would mean a second build of the whole binary. So the hook is compiled into every build
//! but is only *armed* by [`arm_from_env`] in a build with `debug_assertions` (dev and test
//! profiles). Production builds (`--release`, the `Dockerfile`, the `ci` profile) have no debug
//! assertions: there [`arm_from_env`] ignores the variable (with a warning) and [`hit`] is an empty
//! function, so the hook costs nothing and cannot be triggered by accident. In a debug build an
//! unarmed [`hit`] is one atomic load.
//!
//! Unit tests arm a point for the current thread only ([`test_arm`]); there the hook panics
//! instead of aborting, so the test can reopen the store and check what a restart does.

use std::fmt;

/// The environment variable that arms a crash point in a debug build: `<point>:<n>`.
pub const ENV: &str = "BASED_TEST_CRASH_AT";

/// A point in the driver's write path where a crash can be injected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CrashPoint {
    /// A fresh store: genesis is committed, the start derivation state is not yet.
    AfterGenesis,
    /// Before the store transaction importing one derived L2 block (with its L1 origin, and with
    /// its L1 block's progress entries when it is the last L2 block of that L1 block).
    BeforeL2Commit,
    /// After an L2 block commit that is *not* the last of its L1 block: the L1 block's progress
    /// entries (written with its last L2 block) are not committed yet.
    MidL1Block,
    /// After every L2 block commit (the last of its L1 block included).
    AfterL2Commit,
    /// Before the progress-only commit of an L1 block that derived no L2 block.
    BeforeProgressCommit,
    /// After the progress-only commit of an L1 block that derived no L2 block.
    AfterProgressCommit,
    /// Before the unwind commit of an L1 reorg ([`crate::driver::Driver::revert_to`]).
    BeforeUnwind,
    /// After the unwind commit of an L1 reorg.
    AfterUnwind,
    /// After the unwind of L2 blocks past the derivation state ([`crate::driver::Driver::repair`]).
    AfterRepair,
    /// After each pruning commit ([`crate::driver::Driver::prune`]).
    AfterPrune,
}

impl CrashPoint {
    /// Every point.
    pub const ALL: [Self; 10] = [
        Self::AfterGenesis,
        Self::BeforeL2Commit,
        Self::MidL1Block,
        Self::AfterL2Commit,
        Self::BeforeProgressCommit,
        Self::AfterProgressCommit,
        Self::BeforeUnwind,
        Self::AfterUnwind,
        Self::AfterRepair,
        Self::AfterPrune,
    ];

    /// The name used in [`ENV`].
    pub const fn name(self) -> &'static str {
        match self {
            Self::AfterGenesis => "after-genesis",
            Self::BeforeL2Commit => "before-l2-commit",
            Self::MidL1Block => "mid-l1-block",
            Self::AfterL2Commit => "after-l2-commit",
            Self::BeforeProgressCommit => "before-progress-commit",
            Self::AfterProgressCommit => "after-progress-commit",
            Self::BeforeUnwind => "before-unwind",
            Self::AfterUnwind => "after-unwind",
            Self::AfterRepair => "after-repair",
            Self::AfterPrune => "after-prune",
        }
    }

    #[cfg(test)]
    const fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for CrashPoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A malformed [`ENV`] value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{ENV}={value:?}: {reason} (expected <point>:<n>, n >= 1, point one of {points})")]
pub struct FaultSpecError {
    /// The value given.
    pub value: String,
    /// What is wrong with it.
    pub reason: &'static str,
    /// The known point names.
    pub points: String,
}

/// An armed crash: the `nth` hit (from 1) of `point`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Armed {
    /// Where.
    pub point: CrashPoint,
    /// Which hit.
    pub nth: u64,
}

/// Parses an [`ENV`] value, `<point>:<n>`.
pub fn parse(value: &str) -> Result<Armed, FaultSpecError> {
    let err = |reason| FaultSpecError {
        value: value.to_owned(),
        reason,
        points: CrashPoint::ALL.map(CrashPoint::name).join(", "),
    };
    let (name, n) = value.trim().rsplit_once(':').ok_or_else(|| err("no `:<n>`"))?;
    let point = CrashPoint::ALL
        .into_iter()
        .find(|p| p.name() == name)
        .ok_or_else(|| err("unknown point"))?;
    let nth = n.parse::<u64>().ok().filter(|n| *n >= 1).ok_or_else(|| err("bad count"))?;
    Ok(Armed { point, nth })
}

#[cfg(debug_assertions)]
mod armed {
    use super::{Armed, CrashPoint};
    use std::sync::{
        OnceLock,
        atomic::{AtomicU64, Ordering},
    };

    /// The armed crash of this process (set once, by [`super::arm_from_env`]).
    pub(super) static ARMED: OnceLock<Armed> = OnceLock::new();
    /// Hits of the armed point so far.
    static HITS: AtomicU64 = AtomicU64::new(0);

    #[allow(clippy::print_stderr)] // the process is about to die: the test reads why on stderr
    pub(super) fn hit(point: CrashPoint) {
        let Some(armed) = ARMED.get() else { return };
        if armed.point != point {
            return;
        }
        let n = HITS.fetch_add(1, Ordering::SeqCst).saturating_add(1);
        if n == armed.nth {
            eprintln!("{}: crashing at {point} (hit {n})", super::ENV);
            std::process::abort();
        }
    }
}

/// Arms the crash named by [`ENV`], if set (call once, at node start). In a build without
/// `debug_assertions` the variable is ignored (logged). Returns what was armed.
pub fn arm_from_env() -> Result<Option<Armed>, FaultSpecError> {
    let Some(value) = std::env::var_os(ENV) else { return Ok(None) };
    let value = value.to_string_lossy();
    let armed = parse(&value)?;
    #[cfg(debug_assertions)]
    {
        let armed = *armed::ARMED.get_or_init(|| armed);
        tracing::warn!(target: "based::node", point = %armed.point, nth = armed.nth, "{ENV}: crash armed (test build)");
        Ok(Some(armed))
    }
    #[cfg(not(debug_assertions))]
    {
        tracing::warn!(target: "based::node", point = %armed.point, "{ENV} is ignored in release builds");
        Ok(None)
    }
}

/// The driver reached `point`: dies here when this hit is the armed one ([`arm_from_env`]; in unit
/// tests [`test_arm`], which panics instead).
#[inline]
pub fn hit(point: CrashPoint) {
    #[cfg(test)]
    test::hit(point);
    #[cfg(debug_assertions)]
    armed::hit(point);
    #[cfg(not(any(test, debug_assertions)))]
    let _ = point;
}

/// Arms `point`'s `nth` hit for the current thread (unit tests): the hook then panics with
/// [`test::CRASH`] instead of aborting. `None` disarms.
#[cfg(test)]
pub(crate) fn test_arm(armed: Option<Armed>) {
    test::ARMED.with(|a| a.set(armed.map(|a| (a, 0))));
}

#[cfg(test)]
pub(crate) mod test {
    use super::{Armed, CrashPoint};
    use std::cell::Cell;

    /// The panic message of an injected crash in a unit test.
    pub(crate) const CRASH: &str = "injected crash";

    thread_local! {
        pub(super) static ARMED: Cell<Option<(Armed, u64)>> = const { Cell::new(None) };
        /// Hits per point on this thread (armed or not), to check the points are reached.
        pub(crate) static HITS: Cell<[u64; CrashPoint::ALL.len()]> =
            const { Cell::new([0; CrashPoint::ALL.len()]) };
    }

    /// Hits of `point` on this thread so far.
    pub(crate) fn hits(point: CrashPoint) -> u64 {
        HITS.with(|h| h.get()[point.index()])
    }

    pub(super) fn hit(point: CrashPoint) {
        HITS.with(|h| {
            let mut all = h.get();
            all[point.index()] = all[point.index()].saturating_add(1);
            h.set(all);
        });
        let Some((armed, seen)) = ARMED.with(Cell::get) else { return };
        if armed.point != point {
            return;
        }
        let seen = seen.saturating_add(1);
        if seen == armed.nth {
            ARMED.with(|a| a.set(None));
            std::panic::panic_any(CRASH);
        }
        ARMED.with(|a| a.set(Some((armed, seen))));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_points_and_refuses_bad_values() {
        for p in CrashPoint::ALL {
            assert_eq!(parse(&format!("{p}:3")), Ok(Armed { point: p, nth: 3 }));
        }
        for bad in ["", "after-prune", "after-prune:0", "after-prune:x", "nowhere:1", ":1"] {
            let err = parse(bad).unwrap_err();
            assert!(err.to_string().contains("after-l2-commit"), "{err}");
        }
    }
}
