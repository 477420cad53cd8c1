//! Turning a panic inside a run into a failed check.
//!
//! A process that breaks one of its own assertions (or a bug in the engine)
//! panics. The engine catches the panic where it runs the events, stops the
//! run there and reports the check `engine.panic` with the panic's message,
//! so `explore` reports the seed like any other failure (with its replay
//! command) instead of dying, and `shrink` can minimize it.
//!
//! The message comes from the panic's payload. A program that calls
//! [`install_quiet_hook`] first (the CLI does) also gets the source
//! location, and panics caught this way print nothing of their own; panics
//! elsewhere still print as usual.

use std::any::Any;
use std::cell::RefCell;
use std::panic::{self, PanicHookInfo};
use std::sync::Once;

thread_local! {
    /// Where the last panic on this thread happened, recorded by the quiet
    /// hook while a run is catching panics.
    static LAST: RefCell<Option<String>> = const { RefCell::new(None) };
    /// Whether this thread is running events under [`catching`].
    static CATCHING: RefCell<bool> = const { RefCell::new(false) };
}

static INSTALL: Once = Once::new();

/// Installs (once per process) a panic hook that records the location of a
/// panic raised inside a run instead of printing it, and hands every other
/// panic to the hook that was installed before.
pub fn install_quiet_hook() {
    INSTALL.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info: &PanicHookInfo<'_>| {
            if CATCHING.with(|c| *c.borrow()) {
                let place = info
                    .location()
                    .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()));
                LAST.with(|last| *last.borrow_mut() = place);
            } else {
                previous(info);
            }
        }));
    });
}

/// Runs `f`, returning the panic's description if it panicked.
pub fn catching(f: impl FnOnce()) -> Option<String> {
    LAST.with(|last| last.borrow_mut().take());
    CATCHING.with(|c| *c.borrow_mut() = true);
    let outcome = panic::catch_unwind(panic::AssertUnwindSafe(f));
    CATCHING.with(|c| *c.borrow_mut() = false);
    let payload = outcome.err()?;
    let message = payload_text(payload.as_ref());
    let place = LAST.with(|last| last.borrow_mut().take());
    Some(match place {
        Some(place) => format!("a panic at {place}: {message}"),
        None => format!("a panic: {message}"),
    })
}

fn payload_text(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        return (*s).to_string();
    }
    if let Some(s) = payload.downcast_ref::<String>() {
        return s.clone();
    }
    "(a panic without a message)".to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_its_message_and_location() {
        install_quiet_hook();
        let caught = catching(|| panic!("log terms must not decrease"));
        let Some(text) = caught else {
            panic!("the panic was not caught");
        };
        assert!(text.contains("log terms must not decrease"), "{text}");
        assert!(text.contains("src/sim/panics.rs:"), "{text}");
        assert_eq!(catching(|| {}), None);
    }
}
