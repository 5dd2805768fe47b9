//! Named steps for long scenario tests.
//!
//! In: a step's name, at the start of each stage of a scenario (`let _step = step("…")`).
//! Out: the name on stderr as the test goes, and — when an assertion fails — a line naming
//! the step that failed, so a 400-line scenario says where it stopped, not only which line.

use std::cell::RefCell;

thread_local! {
    static CURRENT: RefCell<Option<&'static str>> = const { RefCell::new(None) };
}

/// Marks the start of a step; keep the guard alive for the step (`let _step = step("…")`;
/// a later step's guard takes over, even if it shadows this one).
pub fn step(name: &'static str) -> Step {
    eprintln!("step: {name}");
    CURRENT.with(|c| *c.borrow_mut() = Some(name));
    Step { name }
}

/// The guard of a [`step`]: reports the step if the test fails while it is the current one.
#[derive(Debug)]
pub struct Step {
    name: &'static str,
}

impl Drop for Step {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        CURRENT.with(|c| {
            let mut current = c.borrow_mut();
            if *current == Some(self.name) {
                eprintln!("FAILED in step: {}", self.name);
                *current = None;
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_failing_step_is_the_current_one() {
        let caught = std::panic::catch_unwind(|| {
            let _step = step("first");
            let _step = step("second");
            CURRENT.with(|c| assert_eq!(*c.borrow(), Some("second")));
            panic!("an assertion in the second step");
        });
        assert!(caught.is_err());
        // The second step's guard reported and cleared it; the first one's saw it was not
        // current and stayed quiet.
        CURRENT.with(|c| assert_eq!(*c.borrow(), None));
    }
}
