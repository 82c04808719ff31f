//! When to probe and what the results mean: the kubelet's prober as a pure state machine.
//!
//! Time is the elapsed time since the container started, handed in by the caller. Startup and
//! readiness probes run every `fast_interval` (5 ms by default, 100 ms for exec probes) until
//! their first success, so a replica joins the pool within milliseconds of being able to
//! serve, not on the next multi-second period; after that, each probe keeps its own
//! `periodSeconds`.
//!
//! Fast probing must not shorten the time a slow model has to start: a startup probe fails the
//! container only once `initialDelaySeconds + failureThreshold × periodSeconds` has passed
//! without a success (the startup allowance Kubernetes documents), however many fast probes
//! failed before.
//!
//! [`Probes`] holds one process's probes: the startup probe alone until it passes, then
//! readiness and liveness, as the kubelet runs them.

use std::time::Duration;

use crate::spec::{Probe, ProbeAction, ProbeKind, ReplicaSpec};

/// What a probe result changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Readiness: the replica became ready. Startup: the startup probe passed.
    Passed,
    /// Readiness: the replica is no longer ready. Startup, liveness: restart the container.
    Failed,
}

/// One probe of one container.
#[derive(Debug, Clone)]
pub(crate) struct ProbeState {
    kind: ProbeKind,
    probe: Probe,
    /// Probe this often until the first success (startup and readiness only).
    fast_interval: Option<Duration>,
    /// No probe before this time (initial delay, or when the probe was activated).
    not_before: Duration,
    /// Start of the last probe, if any.
    last_start: Option<Duration>,
    last_end: Duration,
    successes: u32,
    failures: u32,
    ever_succeeded: bool,
    /// Readiness: currently ready. Startup: passed. Liveness: unused.
    passing: bool,
}

impl ProbeState {
    /// A probe activated at `activated_at` (container start, or when the startup probe passed).
    pub(crate) fn new(
        kind: ProbeKind,
        probe: Probe,
        fast_interval: Duration,
        activated_at: Duration,
    ) -> Self {
        let fast_interval = match kind {
            ProbeKind::Startup | ProbeKind::Readiness => Some(fast_interval),
            ProbeKind::Liveness => None,
        };
        ProbeState {
            kind,
            not_before: probe.initial_delay.max(activated_at),
            probe,
            fast_interval,
            last_start: None,
            last_end: Duration::ZERO,
            successes: 0,
            failures: 0,
            ever_succeeded: false,
            passing: false,
        }
    }

    /// The probe's configuration.
    pub(crate) fn probe(&self) -> &Probe {
        &self.probe
    }

    /// Which probe this is.
    pub(crate) fn kind(&self) -> ProbeKind {
        self.kind
    }

    /// True while the probe is in its fast, pre-first-success phase.
    #[cfg(test)]
    pub(crate) fn is_fast(&self) -> bool {
        self.fast_interval.is_some() && !self.ever_succeeded
    }

    /// When the next probe is due (elapsed since the container started).
    pub(crate) fn next_at(&self) -> Duration {
        let Some(last_start) = self.last_start else {
            return self.not_before;
        };
        let next = match self.fast_interval {
            Some(fast) if !self.ever_succeeded => self.last_end.saturating_add(fast),
            // Periodic probes tick from their start, as the kubelet's ticker does; a probe that
            // overran its period is followed by the next one at once.
            _ => last_start
                .saturating_add(self.probe.period)
                .max(self.last_end),
        };
        next.max(self.not_before)
    }

    /// Records a probe that ran from `start` to `end` and succeeded or not.
    pub(crate) fn record(&mut self, start: Duration, end: Duration, ok: bool) -> Option<Verdict> {
        self.last_start = Some(start);
        self.last_end = end;
        if ok {
            self.successes = self.successes.saturating_add(1);
            self.failures = 0;
            self.ever_succeeded = true;
        } else {
            self.failures = self.failures.saturating_add(1);
            self.successes = 0;
        }
        match self.kind {
            ProbeKind::Readiness => {
                if !self.passing && self.successes >= self.probe.success_threshold {
                    self.passing = true;
                    Some(Verdict::Passed)
                } else if self.passing && self.failures >= self.probe.failure_threshold {
                    self.passing = false;
                    Some(Verdict::Failed)
                } else {
                    None
                }
            }
            ProbeKind::Startup => {
                if ok {
                    self.passing = true;
                    Some(Verdict::Passed)
                } else if end >= self.startup_allowance() {
                    Some(Verdict::Failed)
                } else {
                    None
                }
            }
            ProbeKind::Liveness => {
                (self.failures >= self.probe.failure_threshold).then_some(Verdict::Failed)
            }
        }
    }

    /// How long a startup probe may keep failing: `initialDelay + failureThreshold × period`.
    pub(crate) fn startup_allowance(&self) -> Duration {
        self.probe.initial_delay.saturating_add(
            self.probe
                .period
                .saturating_mul(self.probe.failure_threshold),
        )
    }
}

/// The probes of one process: the startup probe alone until it passes, then readiness and
/// liveness.
pub(crate) struct Probes {
    pub(crate) active: Vec<ProbeState>,
    after_startup: Vec<(ProbeKind, Probe)>,
    fast: FastIntervals,
}

/// Fast-phase intervals: network probes are cheap, exec probes fork a process each time.
#[derive(Clone, Copy)]
pub(crate) struct FastIntervals {
    pub(crate) network: Duration,
    pub(crate) exec: Duration,
}

impl FastIntervals {
    fn state(self, kind: ProbeKind, probe: Probe, activated_at: Duration) -> ProbeState {
        let fast = match probe.action {
            ProbeAction::Exec { .. } => self.exec,
            ProbeAction::HttpGet(_) | ProbeAction::TcpSocket { .. } => self.network,
        };
        ProbeState::new(kind, probe, fast, activated_at)
    }
}

impl Probes {
    pub(crate) fn new(spec: &ReplicaSpec, fast: FastIntervals) -> Self {
        let mut later = vec![(ProbeKind::Readiness, spec.effective_readiness_probe())];
        if let Some(liveness) = &spec.liveness_probe {
            later.push((ProbeKind::Liveness, liveness.clone()));
        }
        let mut probes = Probes {
            active: Vec::new(),
            after_startup: later,
            fast,
        };
        match &spec.startup_probe {
            Some(startup) => {
                probes
                    .active
                    .push(fast.state(ProbeKind::Startup, startup.clone(), Duration::ZERO));
            }
            None => probes.startup_passed(Duration::ZERO),
        }
        probes
    }

    /// The probe due first (its index in `active`), and when.
    pub(crate) fn next(&self) -> Option<(usize, Duration)> {
        self.active
            .iter()
            .enumerate()
            .map(|(i, p)| (i, p.next_at()))
            .min_by_key(|&(_, at)| at)
    }

    pub(crate) fn startup_passed(&mut self, at: Duration) {
        let fast = self.fast;
        self.active = std::mem::take(&mut self.after_startup)
            .into_iter()
            .map(|(kind, probe)| fast.state(kind, probe, at))
            .collect();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::ProbeAction;

    const FAST: Duration = Duration::from_millis(25);

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn probe(period_ms: u64, success: u32, failure: u32) -> Probe {
        let mut p = Probe::new(ProbeAction::TcpSocket { port: None });
        p.period = ms(period_ms);
        p.success_threshold = success;
        p.failure_threshold = failure;
        p
    }

    #[test]
    fn readiness_probes_fast_until_the_first_success_then_on_its_period() {
        let mut s = ProbeState::new(ProbeKind::Readiness, probe(10_000, 1, 3), FAST, ms(0));
        assert_eq!(s.next_at(), ms(0));
        assert_eq!(s.record(ms(0), ms(1), false), None);
        assert_eq!(s.next_at(), ms(26));
        assert_eq!(s.record(ms(26), ms(27), false), None);
        assert_eq!(s.next_at(), ms(52));
        assert_eq!(s.record(ms(52), ms(53), true), Some(Verdict::Passed));
        assert!(!s.is_fast());
        assert_eq!(s.next_at(), ms(10_052));
    }

    #[test]
    fn readiness_goes_away_after_failure_threshold_and_comes_back_after_success_threshold() {
        let mut s = ProbeState::new(ProbeKind::Readiness, probe(1000, 2, 3), FAST, ms(0));
        assert_eq!(s.record(ms(0), ms(1), true), None, "one success of two");
        assert_eq!(s.record(ms(1000), ms(1001), true), Some(Verdict::Passed));
        assert_eq!(s.record(ms(2000), ms(2001), false), None);
        assert_eq!(s.record(ms(3000), ms(3001), false), None);
        assert_eq!(s.record(ms(4000), ms(4001), false), Some(Verdict::Failed));
        assert_eq!(
            s.record(ms(5000), ms(5001), false),
            None,
            "already not ready"
        );
        assert_eq!(
            s.next_at(),
            ms(6000),
            "after a success, no more fast probing"
        );
        assert_eq!(s.record(ms(6000), ms(6001), true), None);
        assert_eq!(s.record(ms(7000), ms(7001), true), Some(Verdict::Passed));
    }

    #[test]
    fn initial_delay_holds_back_even_fast_probes() {
        let mut p = probe(10_000, 1, 3);
        p.initial_delay = ms(5000);
        let s = ProbeState::new(ProbeKind::Readiness, p, FAST, ms(0));
        assert_eq!(s.next_at(), ms(5000));
        let later = ProbeState::new(ProbeKind::Readiness, probe(10_000, 1, 3), FAST, ms(700));
        assert_eq!(
            later.next_at(),
            ms(700),
            "activated when the startup probe passed"
        );
    }

    #[test]
    fn startup_probe_fails_only_after_its_whole_allowance() {
        let mut s = ProbeState::new(ProbeKind::Startup, probe(1000, 1, 3), FAST, ms(0));
        assert_eq!(s.startup_allowance(), ms(3000));
        let mut t = 0;
        let mut verdict = None;
        while verdict.is_none() && t < 10_000 {
            let start = s.next_at().as_millis() as u64;
            t = start + 1;
            verdict = s.record(ms(start), ms(t), false);
        }
        assert_eq!(verdict, Some(Verdict::Failed));
        assert!((3000..3030).contains(&t), "failed at {t} ms");
    }

    #[test]
    fn startup_probe_passes_at_the_first_success() {
        let mut s = ProbeState::new(ProbeKind::Startup, probe(1000, 1, 3), FAST, ms(0));
        assert_eq!(s.record(ms(0), ms(2), false), None);
        assert_eq!(s.record(ms(27), ms(30), true), Some(Verdict::Passed));
    }

    #[test]
    fn liveness_is_never_fast_and_fails_after_consecutive_failures() {
        let mut s = ProbeState::new(ProbeKind::Liveness, probe(1000, 1, 2), FAST, ms(0));
        assert!(!s.is_fast());
        assert_eq!(s.record(ms(0), ms(1), false), None);
        assert_eq!(s.next_at(), ms(1000));
        assert_eq!(
            s.record(ms(1000), ms(1001), true),
            None,
            "a success resets the count"
        );
        assert_eq!(s.record(ms(2000), ms(2001), false), None);
        assert_eq!(s.record(ms(3000), ms(3001), false), Some(Verdict::Failed));
    }

    #[test]
    fn a_probe_that_overruns_its_period_is_followed_at_once() {
        let mut s = ProbeState::new(ProbeKind::Liveness, probe(1000, 1, 3), FAST, ms(0));
        s.record(ms(0), ms(1500), true);
        assert_eq!(s.next_at(), ms(1500));
    }

    fn fast() -> FastIntervals {
        FastIntervals {
            network: ms(5),
            exec: ms(100),
        }
    }

    #[test]
    fn a_startup_probe_runs_alone_until_it_passes() {
        let mut spec = ReplicaSpec::new("x", Vec::<String>::new());
        spec.startup_probe = Some(probe(1000, 1, 3));
        spec.liveness_probe = Some(Probe::new(ProbeAction::Exec {
            command: vec!["true".into()],
        }));
        let mut probes = Probes::new(&spec, fast());
        let kinds = |p: &Probes| p.active.iter().map(ProbeState::kind).collect::<Vec<_>>();
        assert_eq!(kinds(&probes), [ProbeKind::Startup]);
        probes.startup_passed(ms(700));
        assert_eq!(kinds(&probes), [ProbeKind::Readiness, ProbeKind::Liveness]);
        assert_eq!(
            probes.next(),
            Some((0, ms(700))),
            "readiness first, at once"
        );
    }

    #[test]
    fn exec_probes_use_the_slower_fast_interval() {
        let mut spec = ReplicaSpec::new("x", Vec::<String>::new());
        spec.readiness_probe = Some(Probe::new(ProbeAction::Exec {
            command: vec!["true".into()],
        }));
        let mut probes = Probes::new(&spec, fast());
        probes.active[0].record(ms(0), ms(1), false);
        assert_eq!(probes.next(), Some((0, ms(101))));
        let mut tcp = Probes::new(&ReplicaSpec::new("x", Vec::<String>::new()), fast());
        tcp.active[0].record(ms(0), ms(1), false);
        assert_eq!(tcp.next(), Some((0, ms(6))));
    }
}
