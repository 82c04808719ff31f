//! CPU and memory per replica from /proc, sampled the way metrics-server reports pods.
//!
//! A replica's usage is summed over its whole process group, because model servers fork
//! workers (uvicorn `--workers 4`, torch's helpers). CPU is the rate over a window between two
//! samples (utime + stime, in cores); memory is the resident set size at the end of the window.
//! Limits, stated plainly: a process that exits between two samples takes its CPU time since
//! the earlier sample with it, and pages shared between forked workers count once per worker
//! (RSS, not the cgroup working set metrics-server reads).

use std::collections::BTreeMap;
use std::time::Duration;

use ebb_core::Quantity;
use ebb_core::hpa::observe::{ContainerUsage, PodResourceMetrics};
use ebb_core::units::QuantityFormat;

use crate::os::ProcessId;

/// CPU and memory of one replica over a window, as metrics-server gives a pod's.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplicaUsage {
    /// Replica name (`service-n`).
    pub replica: String,
    /// End of the window.
    pub at: tokio::time::Instant,
    /// Length of the window.
    pub window: Duration,
    /// Average CPU over the window, in cores (1.0 = one core busy all the time).
    pub cpu_cores: f64,
    /// Resident memory at the end of the window, in bytes.
    pub memory_bytes: u64,
}

impl ReplicaUsage {
    /// Millicores, rounded to the nearest.
    pub fn cpu_millicores(&self) -> i64 {
        (self.cpu_cores * 1000.0).round() as i64
    }

    /// The metrics.k8s.io entry for this replica, its usage reported for one container named
    /// `container`; `epoch` is the instant the caller maps to the engine's time zero.
    pub fn to_pod_metrics(
        &self,
        container: &str,
        epoch: tokio::time::Instant,
    ) -> PodResourceMetrics {
        let since_epoch = self.at.saturating_duration_since(epoch);
        let mut usage = BTreeMap::new();
        usage.insert(
            "cpu".to_string(),
            Quantity::from_milli(self.cpu_millicores(), QuantityFormat::DecimalSI),
        );
        usage.insert(
            "memory".to_string(),
            Quantity::from_units(
                i64::try_from(self.memory_bytes).unwrap_or(i64::MAX),
                QuantityFormat::BinarySI,
            ),
        );
        PodResourceMetrics {
            pod: self.replica.clone(),
            timestamp: ebb_core::Instant::from_nanos(
                i64::try_from(since_epoch.as_nanos()).unwrap_or(i64::MAX),
            ),
            window: self.window,
            containers: vec![ContainerUsage {
                name: container.to_string(),
                usage,
            }],
        }
    }
}

/// One reading of a process group: CPU ticks per process, and the group's RSS.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct GroupSample {
    /// utime + stime of each live member, in clock ticks.
    pub(crate) cpu_ticks: BTreeMap<ProcessId, u64>,
    pub(crate) rss_bytes: u64,
}

/// CPU ticks spent by the group between two samples: each process's growth, and all of the
/// time of processes that appeared in between.
pub(crate) fn ticks_between(earlier: &GroupSample, later: &GroupSample) -> u64 {
    later
        .cpu_ticks
        .iter()
        .map(|(id, &now)| match earlier.cpu_ticks.get(id) {
            Some(&before) => now.saturating_sub(before),
            None => now,
        })
        .sum()
}

/// Cores used on average over `window`, from ticks.
pub(crate) fn cores(ticks: u64, ticks_per_second: u64, window: Duration) -> f64 {
    if window.is_zero() || ticks_per_second == 0 {
        return 0.0;
    }
    ticks as f64 / ticks_per_second as f64 / window.as_secs_f64()
}

/// Reads /proc once and returns a sample for each of the given process groups that exists.
pub(crate) fn sample_groups(pgids: &[u32]) -> BTreeMap<u32, GroupSample> {
    let mut samples: BTreeMap<u32, GroupSample> = BTreeMap::new();
    let Ok(all) = procfs::process::all_processes() else {
        return samples;
    };
    let page_size = procfs::page_size();
    for stat in all.filter_map(Result::ok).filter_map(|p| p.stat().ok()) {
        let (Ok(pgrp), Ok(pid)) = (u32::try_from(stat.pgrp), u32::try_from(stat.pid)) else {
            continue;
        };
        if stat.state == 'Z' || !pgids.contains(&pgrp) {
            continue;
        }
        let sample = samples.entry(pgrp).or_default();
        sample.cpu_ticks.insert(
            ProcessId {
                pid,
                start_ticks: stat.starttime,
            },
            stat.utime.saturating_add(stat.stime),
        );
        sample.rss_bytes = sample
            .rss_bytes
            .saturating_add(stat.rss.saturating_mul(page_size));
    }
    samples
}

/// Clock ticks per second of the kernel's CPU accounting.
pub(crate) fn ticks_per_second() -> u64 {
    procfs::ticks_per_second()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(pid: u32, start: u64) -> ProcessId {
        ProcessId {
            pid,
            start_ticks: start,
        }
    }

    fn sample(entries: &[(ProcessId, u64)]) -> GroupSample {
        GroupSample {
            cpu_ticks: entries.iter().copied().collect(),
            rss_bytes: 0,
        }
    }

    #[test]
    fn growth_of_known_processes_plus_all_of_new_ones() {
        let before = sample(&[(id(10, 1), 100), (id(11, 5), 40)]);
        let after = sample(&[(id(10, 1), 150), (id(12, 9), 7)]);
        // 10 grew by 50, 11 exited (its last ticks are lost), 12 is new.
        assert_eq!(ticks_between(&before, &after), 57);
    }

    #[test]
    fn a_reused_pid_is_a_new_process() {
        let before = sample(&[(id(10, 1), 100)]);
        let after = sample(&[(id(10, 2), 30)]);
        assert_eq!(ticks_between(&before, &after), 30);
    }

    #[test]
    fn cores_is_ticks_over_wall_time() {
        assert_eq!(cores(150, 100, Duration::from_secs(1)), 1.5);
        assert_eq!(cores(150, 100, Duration::ZERO), 0.0);
        assert_eq!(cores(50, 100, Duration::from_secs(2)), 0.25);
    }

    #[test]
    fn pod_metrics_carry_millicores_bytes_and_the_window() {
        let epoch = tokio::time::Instant::now();
        let usage = ReplicaUsage {
            replica: "app-1".into(),
            at: epoch + Duration::from_secs(20),
            window: Duration::from_secs(15),
            cpu_cores: 0.2504,
            memory_bytes: 64 << 20,
        };
        let pm = usage.to_pod_metrics("app", epoch);
        assert_eq!(pm.pod, "app-1");
        assert_eq!(pm.timestamp, ebb_core::Instant::from_secs(20));
        assert_eq!(pm.window, Duration::from_secs(15));
        let c = &pm.containers[0];
        assert_eq!(c.name, "app");
        assert_eq!(c.usage["cpu"].milli_value(), 250);
        assert_eq!(c.usage["memory"].value(), 64 << 20);
        assert_eq!(c.usage["memory"].to_string(), "64Mi");
    }

    #[test]
    fn this_process_group_is_sampled() {
        let me = std::process::id();
        let pgrp = crate::os::proc_info(me).expect("self").pgrp;
        let samples = sample_groups(&[pgrp]);
        let group = samples.get(&pgrp).expect("own group");
        assert!(group.cpu_ticks.keys().any(|p| p.pid == me));
        assert!(group.rss_bytes > 0);
    }
}
