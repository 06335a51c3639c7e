//! Tests of the deterministic scheduler.

use super::*;

#[test]
fn same_seed_same_trace() {
    let program = Program::increment();
    let a = Scheduler::new(42, CheckPolicy::EveryInstruction).run(&program, 3, 20);
    let b = Scheduler::new(42, CheckPolicy::EveryInstruction).run(&program, 3, 20);
    assert_eq!(a, b);
    let c = Scheduler::new(43, CheckPolicy::EveryInstruction).run(&program, 3, 20);
    assert_ne!(a.events, c.events);
}

#[test]
fn lost_updates_are_found_and_add_up() {
    let program = Program::increment();
    let replay = Scheduler::new(1, CheckPolicy::EveryInstruction).run(&program, 2, 100);
    assert!(replay.lost() > 0);
    assert!(
        replay
            .lost_updates
            .iter()
            .all(|l| l.overwritten > 0 && l.first <= l.load && l.load < l.store)
    );
    let trace = replay.first_lost_update_trace();
    assert!(trace.contains("LOAD_GLOBAL counter"), "{trace}");
    assert!(trace.contains("--- GIL"), "{trace}");
}

#[test]
fn modern_policy_hides_the_plain_race_but_not_the_call() {
    for seed in 0..20 {
        let modern = Scheduler::new(seed, CheckPolicy::BackEdgesAndCalls);
        let plain = modern.clone().run(&Program::increment(), 3, 50);
        assert_eq!(plain.total, 150);
        let with_call = modern.run(&Program::read_call_write(), 3, 50);
        assert!(with_call.lost() > 0, "seed {seed}");
    }
}

#[test]
fn lock_makes_every_schedule_exact() {
    for seed in 0..20 {
        for free in [false, true] {
            let replay = Scheduler::new(seed, CheckPolicy::EveryInstruction)
                .free_threaded(free)
                .run(&Program::increment_locked(), 4, 30);
            assert_eq!(replay.total, 120, "seed {seed} free {free}");
            assert!(replay.lost_updates.is_empty());
        }
    }
}

#[test]
fn free_threaded_schedules_lose_updates() {
    let replay = Scheduler::new(3, CheckPolicy::BackEdgesAndCalls)
        .free_threaded(true)
        .run(&Program::increment(), 2, 100);
    assert!(replay.lost() > 0);
}

#[test]
fn a_run_without_its_trace_keeps_its_figures() {
    for seed in 0..10 {
        let scheduler = Scheduler::new(seed, CheckPolicy::EveryInstruction).mean_interval(9);
        let traced = scheduler.clone().run(&Program::increment_locked(), 3, 40);
        let quiet = scheduler
            .trace(false)
            .run(&Program::increment_locked(), 3, 40);
        assert!(quiet.events.is_empty());
        assert_eq!(quiet.total, traced.total);
        assert_eq!(quiet.lost_updates, traced.lost_updates);
        assert_eq!(quiet.switches, traced.switches);
        let counted = traced
            .events
            .iter()
            .filter(|e| matches!(e, Event::Switch { .. }))
            .count();
        assert_eq!(traced.switches, counted as u64);
    }
}

/// `counter += 1` written as a [`ModelThread`]: read (an opcode), write (an opcode),
/// back edge.
struct Increment<'a> {
    counter: &'a std::cell::Cell<u64>,
    left: u64,
    pc: u8,
    seen: u64,
}

impl ModelThread for Increment<'_> {
    fn step(&mut self) -> Option<Site> {
        if self.left == 0 {
            return None;
        }
        self.pc = (self.pc + 1) % 3;
        match self.pc {
            1 => self.seen = self.counter.get(),
            2 => self.counter.set(self.seen + 1),
            _ => {
                self.left -= 1;
                return Some(Site::BackEdge);
            }
        }
        Some(Site::Opcode)
    }
}

#[test]
fn other_model_threads_follow_the_same_rules() {
    let run = |policy, free| {
        let counter = std::cell::Cell::new(0);
        let mut threads: Vec<Increment<'_>> = (0..3)
            .map(|_| Increment {
                counter: &counter,
                left: 100,
                pc: 0,
                seen: 0,
            })
            .collect();
        let switches = Scheduler::new(5, policy)
            .free_threaded(free)
            .run_threads(&mut threads);
        (counter.get(), switches)
    };
    let (old, old_switches) = run(CheckPolicy::EveryInstruction, false);
    assert!(old < 300 && old_switches > 0, "{old} {old_switches}");
    let (modern, modern_switches) = run(CheckPolicy::BackEdgesAndCalls, false);
    assert_eq!(modern, 300);
    assert!(modern_switches > 0);
    let (free, free_switches) = run(CheckPolicy::BackEdgesAndCalls, true);
    assert!(free < 300);
    assert_eq!(free_switches, 0);
}
