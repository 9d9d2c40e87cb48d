//! A worker's way to the monitor: a sender of the worker's own payload
//! type. The worker names only what it says (a mover `Report`, a reader's
//! `News`...); the monitor, which consumes them, wraps each into its
//! `Event` (`monitor/event.rs`) when it hands the worker its `Post`. So no
//! worker depends on the monitor's event type, and the monitor's one
//! channel keeps the order in which things happened.

use std::sync::Arc;

/// The monitor is gone (its channel closed): the worker may stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Gone;

/// Sends a worker's `T` to the monitor. Cloned freely; `send` blocks while
/// the monitor's channel is full, as a plain channel send does. Built by the
/// monitor's side (`monitor::event::post`); nobody changes it after that.
pub(crate) struct Post<T>(Arc<dyn Fn(T) -> Result<(), Gone> + Send + Sync>);

impl<T> Post<T> {
    pub(crate) fn new(send: impl Fn(T) -> Result<(), Gone> + Send + Sync + 'static) -> Post<T> {
        Post(Arc::new(send))
    }

    /// Hands `what` to the monitor; `Err(Gone)` when it no longer listens.
    pub(crate) fn send(&self, what: T) -> Result<(), Gone> {
        (self.0)(what)
    }
}

impl<T> Clone for Post<T> {
    fn clone(&self) -> Post<T> {
        Post(Arc::clone(&self.0))
    }
}

/// A worker thread hit an error it cannot recover from: its name and why.
#[derive(Debug)]
pub(crate) struct Failed {
    pub name: &'static str,
    pub error: String,
}
