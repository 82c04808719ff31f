//! End-to-end behaviour of the whole autoscaler (spec §5.3, §8.4, §11) and its invariants.

use std::time::Duration;

use proptest::prelude::*;

use super::*;
use crate::kpa::replay::{Demand, Load, Pods, ReadError, Row, Scenario, Trigger, replay};
use crate::kpa::{Activity, KpaConfig, KpaSettings, SksMode};
use crate::units::KubeDuration;

fn t(s: i64) -> Instant {
    Instant::from_secs(s)
}

fn spec(settings: KpaSettings) -> KpaSpec {
    KpaSpec::resolve(&KpaConfig::default(), &settings)
}

/// `busy` seconds at `concurrency` after `idle` idle seconds.
fn demand(idle: usize, busy: usize, concurrency: f64) -> Load {
    let mut d = vec![Demand::default(); idle];
    d.extend(vec![
        Demand {
            concurrency,
            rps: concurrency,
        };
        busy
    ]);
    Load::Demand(d)
}

fn scenario(load: Load, startup_secs: u64, until: i64) -> Scenario {
    Scenario {
        load,
        pods: Pods::Follow {
            startup: Duration::from_secs(startup_secs),
        },
        ready_at_start: None,
        reachability: Reachability::Reachable,
        holder_reachable: true,
        ready_errors: Vec::new(),
        metric_errors: Vec::new(),
        until: t(until),
    }
}

fn first_scale_to(rows: &[Row], n: i32, after: Instant) -> Option<Instant> {
    rows.iter()
        .find(|r| r.time.is_after(after) && r.decision.scale_to == Some(n))
        .map(|r| r.time)
}

fn replicas_at(rows: &[Row], time: Instant) -> i32 {
    rows.iter()
        .filter(|r| !r.time.is_after(time))
        .filter_map(|r| r.decision.scale_to)
        .next_back()
        .unwrap_or(1)
}

fn decider_desired(row: &Row) -> Option<i32> {
    row.decision.steps.iter().find_map(|s| match s {
        Step::DeciderResult { desired, .. } => Some(*desired),
        _ => None,
    })
}

#[test]
fn s8_4_idle_revision_goes_to_zero_in_two_steps_with_defaults() {
    // 20 s of 10 concurrent requests, then nothing.
    let rows = replay(
        spec(KpaSettings::default()),
        &scenario(demand(0, 20, 10.0), 0, 200),
    );
    // The stable average still sees the last busy second (recorded at 20) until 80.
    let wants_zero = rows
        .iter()
        .find(|r| decider_desired(r) == Some(0))
        .map(|r| r.time)
        .unwrap();
    assert_eq!(wants_zero, t(80));
    // Active since t=0 for more than the stable window: marked inactive at once, no patch.
    let inactive = rows
        .iter()
        .find(|r| {
            r.decision
                .conditions
                .iter()
                .any(|c| c.reason == "NoTraffic")
        })
        .unwrap();
    assert_eq!(inactive.time, t(80));
    assert_eq!(inactive.decision.scale_to, None);
    assert_eq!(inactive.request_path, Some(SksMode::Proxy));
    // The holder has been in the path since creation (default TBC keeps it there): the fast
    // path scales to zero on the re-check 3 s later.
    assert_eq!(first_scale_to(&rows, 0, t(0)), Some(t(83)));
    let zero = rows.iter().find(|r| r.time == t(83)).unwrap();
    assert_eq!(zero.trigger, Trigger::Timer);
}

#[test]
fn s8_4_a_request_at_zero_pokes_and_activates_at_once() {
    // Idle (at zero after ~83 s), then a request at 150 s.
    let mut d = vec![Demand::default(); 150];
    d.push(Demand {
        concurrency: 1.0,
        rps: 1.0,
    });
    let rows = replay(
        spec(KpaSettings::default()),
        &scenario(Load::Demand(d), 5, 200),
    );
    let zero = first_scale_to(&rows, 0, t(0)).unwrap();
    assert!(zero < t(150), "{zero:?}");
    let poke = rows.iter().find(|r| r.trigger == Trigger::Poke).unwrap();
    assert_eq!(poke.time, t(150));
    // The window was empty for more than 60 s: the poke alone defines the average.
    assert_eq!(poke.decision.scale_to, Some(1));
    assert!(
        poke.decision
            .conditions
            .iter()
            .any(|c| c.reason == "Queued")
    );
    // The pod is ready 5 s later: Active.
    let ready = rows
        .iter()
        .find(|r| r.trigger == Trigger::Pods && r.time == t(155))
        .unwrap();
    assert!(
        ready
            .decision
            .conditions
            .iter()
            .any(|c| c.reason.is_empty() && c.status == crate::decision::ConditionStatus::True)
    );
}

#[test]
fn s5_3_poke_wakes_only_a_revision_whose_answer_is_zero() {
    let mut kpa = Kpa::new(spec(KpaSettings::default()), t(0), 0);
    // Desired −1 (nothing known yet): a holder stat does not poke.
    assert!(!kpa.record(t(1), Source::Holder, &Stat::POKE));
    kpa.state.decider.status.desired_scale = 0;
    assert!(kpa.record(t(2), Source::Holder, &Stat::POKE));
    // Replica stats and zero-concurrency stats never poke.
    assert!(!kpa.record(t(3), Source::Replicas, &Stat::POKE));
    assert!(!kpa.record(t(3), Source::Holder, &Stat::new(0.0, 1.0)));
}

#[test]
fn s5_4_empty_window_is_no_data_and_keeps_the_last_answer() {
    let mut kpa = Kpa::new(spec(KpaSettings::default()), t(0), 0);
    let d = kpa.tick(t(2), &Observation::ready(0));
    assert!(d.steps.iter().any(|s| matches!(s, Step::NoData { .. })));
    assert_eq!(kpa.state().decider.status.desired_scale, -1);
    // With TBC −1 there is no scrape target: an empty window reads 0.
    let mut kpa = Kpa::new(
        spec(KpaSettings {
            target_burst_capacity: Some(-1.0),
            ..KpaSettings::default()
        }),
        t(0),
        0,
    );
    kpa.tick(t(2), &Observation::ready(0));
    assert_eq!(kpa.state().decider.status.desired_scale, 0);
}

#[test]
fn s6_a_ready_count_read_error_invalidates_the_tick() {
    let mut s = scenario(demand(0, 30, 20.0), 0, 40);
    s.ready_errors.push(ReadError {
        from: t(10),
        to: t(15),
        error: "endpoints: timeout".into(),
    });
    let rows = replay(spec(KpaSettings::default()), &s);
    let bad = rows.iter().find(|r| r.time == t(12)).unwrap();
    assert!(bad.ready.is_err());
    assert!(
        bad.decision
            .steps
            .iter()
            .any(|s| matches!(s, Step::NoData { error } if error.contains("timeout")))
    );
    assert_eq!(bad.decision.scale_to, None);
}

#[test]
fn s6_window_values_can_be_handed_in_directly() {
    // The worked numbers of §6: stable 350 and panic 700 with 3 ready → panic, 10 pods.
    let s = Scenario {
        load: Load::Windows(vec![
            (
                t(2),
                Ok(WindowValues {
                    stable: 350.0,
                    panic: 700.0,
                }),
            ),
            (t(4), Err("metrics API unavailable".into())),
        ]),
        pods: Pods::Schedule(vec![(t(0), 3)]),
        ready_at_start: Some(3),
        ..scenario(Load::Demand(Vec::new()), 0, 10)
    };
    let rows = replay(spec(KpaSettings::default()), &s);
    let tick = rows.iter().find(|r| r.time == t(2)).unwrap();
    assert_eq!(tick.decision.scale_to, Some(10));
    assert!(tick.panicking);
    let failed = rows.iter().find(|r| r.time == t(4)).unwrap();
    assert!(
        failed
            .decision
            .steps
            .iter()
            .any(|s| matches!(s, Step::NoData { .. }))
    );
    assert_eq!(failed.decision.desired_replicas, 10);
}

#[test]
fn s8_4_retention_keeps_the_last_pod_after_going_inactive() {
    let settings = KpaSettings {
        scale_to_zero_pod_retention_period: Some(KubeDuration::from_secs(300)),
        ..KpaSettings::default()
    };
    let rows = replay(spec(settings), &scenario(demand(0, 20, 10.0), 0, 500));
    let inactive = rows
        .iter()
        .find(|r| {
            r.decision
                .conditions
                .iter()
                .any(|c| c.reason == "NoTraffic")
        })
        .unwrap()
        .time;
    assert_eq!(inactive, t(80));
    assert_eq!(first_scale_to(&rows, 0, t(0)), Some(t(380)));
    assert_eq!(replicas_at(&rows, t(379)), 1);
}

#[test]
fn s11_9_restarted_autoscaler_starts_in_panic_and_keeps_its_pods() {
    let s = Scenario {
        ready_at_start: Some(5),
        ..scenario(demand(0, 0, 0.0), 0, 70)
    };
    let rows = replay(spec(KpaSettings::default()), &s);
    // No traffic at all, yet the 5 pods stay until panic ends (60 s after creation).
    let first_down = rows
        .iter()
        .find(|r| r.decision.scale_to.is_some_and(|n| n < 5))
        .unwrap();
    assert!(first_down.time > t(60), "{:?}", first_down.time);
}

#[test]
fn s11_12_a_delay_added_later_does_not_create_the_window() {
    let mut kpa = Kpa::new(spec(KpaSettings::default()), t(0), 0);
    let delayed = spec(KpaSettings {
        scale_down_delay: Some(KubeDuration::from_secs(60)),
        window: Some(KubeDuration::from_secs(30)),
        ..KpaSettings::default()
    });
    kpa.update_spec(t(0), delayed.clone());
    assert!(kpa.state().decider.delay_window.is_none());
    assert_eq!(kpa.spec().stable_window_secs(), 30);
    // Created with the delay, the window exists.
    let kpa = Kpa::new(delayed, t(0), 0);
    assert!(kpa.state().decider.delay_window.is_some());
}

#[test]
fn s5_5_window_resize_keeps_recent_data() {
    let mut kpa = Kpa::new(spec(KpaSettings::default()), t(0), 0);
    for s in 1..=10 {
        kpa.record(t(s), Source::Replicas, &Stat::new(14.0, 14.0));
    }
    kpa.update_spec(
        t(10),
        spec(KpaSettings {
            window: Some(KubeDuration::from_secs(20)),
            ..KpaSettings::default()
        }),
    );
    // Upstream moves the first write back a whole old window, so the ten busy seconds are now
    // averaged over the full 20 s window (140 / 20), and over 2 s in the 2 s panic window.
    let d = kpa.tick(t(10), &Observation::ready(1));
    assert!(
        d.steps.iter().any(
            |s| matches!(s, Step::Observed { stable, panic, .. } if *stable == 7.0 && *panic == 14.0)
        ),
        "{:?}",
        d.steps
    );
}

#[test]
fn state_survives_a_json_round_trip_and_resumes_identically() {
    let spec = spec(KpaSettings {
        scale_down_delay: Some(KubeDuration::from_secs(20)),
        ..KpaSettings::default()
    });
    let mut a = Kpa::new(spec.clone(), t(0), 0);
    a.reconcile(t(0), &Observation::ready(0));
    let load = |s: i64| if s < 30 { 40.0 } else { 0.0 };
    let ready = |s: i64| if s < 5 { 0 } else { 3 };
    let step = |k: &mut Kpa, s: i64| {
        k.record(t(s), Source::Replicas, &Stat::new(load(s), load(s)));
        (s % 2 == 0).then(|| k.tick(t(s), &Observation::ready(ready(s))))
    };
    for s in 1..=40 {
        step(&mut a, s);
    }
    let json = serde_json::to_string(a.state()).unwrap();
    let state: KpaState = serde_json::from_str(&json).unwrap();
    let mut b = Kpa::restore(spec, state);
    assert_eq!(a, b);
    for s in 41..=200 {
        assert_eq!(step(&mut a, s), step(&mut b, s), "second {s}");
    }
    assert_eq!(a.state(), b.state());
}

#[test]
fn decision_names_the_policy_and_carries_the_active_condition() {
    let rows = replay(
        spec(KpaSettings::default()),
        &scenario(demand(0, 10, 30.0), 0, 10),
    );
    for row in &rows {
        assert_eq!(row.decision.policy, crate::decision::PolicyClass::Kpa);
        assert!(row.decision.conditions.iter().any(|c| c.kind == "Active"));
    }
    let activity = rows.last().map(|r| r.decision.conditions[0].status);
    assert_eq!(activity, Some(crate::decision::ConditionStatus::True));
    assert_eq!(Activity::Active.name(), "active");
}

// === Invariants (issue 3) ===

fn arb_demand() -> impl Strategy<Value = Vec<Demand>> {
    prop::collection::vec(
        prop_oneof![
            3 => Just(0.0),
            2 => 0.0..5.0,
            1 => 5.0..200.0,
        ],
        0..90,
    )
    .prop_map(|c| {
        c.into_iter()
            .map(|concurrency| Demand {
                concurrency,
                rps: concurrency,
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn same_observations_give_the_same_decisions(
        load in arb_demand(),
        startup in 0u64..15,
        target in 1.0f64..50.0,
    ) {
        let spec = spec(KpaSettings { target: Some(target), ..KpaSettings::default() });
        let s = scenario(Load::Demand(load), startup, 150);
        prop_assert_eq!(replay(spec.clone(), &s), replay(spec, &s));
    }

    #[test]
    fn desired_never_exceeds_max_scale_nor_the_scale_up_bound(
        values in prop::collection::vec((0.0f64..5000.0, 0.0f64..5000.0), 1..40),
        ready in 0i32..20,
        rate in 1.1f64..10.0,
        max_scale in 0i32..30,
        activation in prop::option::of(2i32..5),
    ) {
        let config = KpaConfig { max_scale_up_rate: rate, ..KpaConfig::default() };
        let spec = KpaSpec::resolve(&config, &KpaSettings {
            max_scale: Some(max_scale),
            activation_scale: activation.filter(|a| max_scale == 0 || *a <= max_scale),
            ..KpaSettings::default()
        });
        let windows = values.iter().enumerate().map(|(i, (s, p))| {
            (t(2 * i as i64 + 2), Ok(WindowValues { stable: *s, panic: *p }))
        }).collect();
        let s = Scenario {
            load: Load::Windows(windows),
            pods: Pods::Schedule(vec![(t(0), ready)]),
            ready_at_start: Some(ready),
            ..scenario(Load::Demand(Vec::new()), 0, 100)
        };
        let max_up = (rate * f64::from(ready.max(1))).ceil() as i32;
        let bound = max_up.max(spec.activation_scale);
        for row in replay(spec.clone(), &s) {
            for step in &row.decision.steps {
                if let Step::Wanted { stable_clamped, panic_clamped, .. } = step {
                    prop_assert!(*stable_clamped <= max_up && *panic_clamped <= max_up);
                }
            }
            if let Some(d) = decider_desired(&row) {
                // With a constant ready count the panic ratchet cannot hold more either,
                // except what the decider started with (ready pods at creation).
                prop_assert!(d <= bound.max(ready), "desired {} > {}", d, bound);
            }
            if max_scale > 0 {
                prop_assert!(row.decision.desired_replicas <= max_scale.max(ready));
                if let Some(n) = row.decision.scale_to {
                    prop_assert!(n <= max_scale);
                }
            }
        }
    }

    #[test]
    fn in_panic_mode_the_desired_count_never_decreases(
        load in arb_demand(),
        startup in 0u64..10,
        target in 1.0f64..20.0,
    ) {
        let spec = spec(KpaSettings { target: Some(target), ..KpaSettings::default() });
        let rows = replay(spec, &scenario(Load::Demand(load), startup, 200));
        let mut episode: Option<i32> = None;
        for row in &rows {
            let entered = row.decision.steps.iter().any(|s| matches!(s, Step::Panic { state, .. } if state == "entered"));
            if entered || !row.panicking {
                episode = None;
            }
            if let (true, Some(d)) = (row.panicking, decider_desired(row)) {
                if let Some(prev) = episode {
                    prop_assert!(d >= prev, "panic desired fell from {} to {} at {:?}", prev, d, row.time);
                }
                episode = Some(d);
            }
        }
    }

    #[test]
    fn an_idle_revision_reaches_zero_no_sooner_than_the_timers_allow(
        load in arb_demand(),
        window in 6i64..120,
        retention in prop_oneof![Just(0i64), 1i64..300],
        grace in 1i64..60,
        startup in 0u64..10,
    ) {
        let config = KpaConfig {
            scale_to_zero_grace_period: KubeDuration::from_secs(grace as u64),
            ..KpaConfig::default()
        };
        let spec = KpaSpec::resolve(&config, &KpaSettings {
            window: Some(KubeDuration::from_secs(window as u64)),
            scale_to_zero_pod_retention_period: Some(KubeDuration::from_secs(retention as u64)),
            ..KpaSettings::default()
        });
        let last_busy = load.iter().rposition(|d| d.concurrency > 0.0).map(|i| i as i64);
        let end = load.len() as i64;
        let until = end + 2 * window + grace.max(retention) + 30;
        let rows = replay(spec, &scenario(Load::Demand(load), startup, until));
        // The last zero write that nothing undoes.
        let zero = rows.iter().rev().take_while(|r| r.decision.scale_to != Some(1))
            .filter(|r| r.decision.scale_to == Some(0)).last().map(|r| r.time);
        let zero = zero.expect("an idle revision must reach zero");
        if let Some(busy) = last_busy {
            // Its last busy second is recorded at busy + 1 and stays in the stable window
            // until busy + 1 + window.
            prop_assert!(!zero.is_before(t(busy + 1 + window)), "zero at {:?}", zero);
        }
        // It went inactive no sooner than a stable window after becoming active, and the last
        // pod stayed at least the retention period after that.
        let inactive_since = rows.iter().filter(|r| !r.time.is_after(zero))
            .filter(|r| r.decision.conditions.iter().any(|c| c.reason == "NoTraffic"))
            .map(|r| r.time)
            .find(|&t0| rows.iter().all(|r| r.time.is_before(t0) || r.time.is_after(zero)
                || r.decision.conditions.iter().any(|c| c.reason == "NoTraffic")));
        let inactive_since = inactive_since.expect("inactive before zero");
        prop_assert!(!zero.is_before(inactive_since + Duration::from_secs(retention as u64)));
        // Start of the last active streak before going inactive.
        let mut active_since = None;
        for r in rows.iter().filter(|r| r.time.is_before(inactive_since)) {
            if r.decision.conditions.iter().any(|c| c.status == crate::decision::ConditionStatus::True) {
                active_since.get_or_insert(r.time);
            } else {
                active_since = None;
            }
        }
        if let Some(active) = active_since {
            prop_assert!(!inactive_since.is_before(active + Duration::from_secs(window as u64)));
        }
    }
}
