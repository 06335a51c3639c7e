// Wrong: reaches a check point after every instruction whatever the policy says, so the 3.10+
// run switches inside `counter += 1` and loses updates that 3.10 would not lose.
// Fails: without lock, 3.10+ check points

fn run_to_end(py: &mut GilGuard<'_>, frame: &mut Frame<'_>, globals: &Globals, _policy: CheckPolicy) {
    use gil_core::bytecode::Step;

    loop {
        match frame.step(globals) {
            Step::Ran { .. } => py.check_point(),
            Step::Blocked => {
                py.detach(|| globals.lock.acquire());
                frame.lock_granted();
            }
            Step::Finished => return,
        }
    }
}
