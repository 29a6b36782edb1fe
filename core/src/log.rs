//! Diagnostic events (a message ignored, a write fenced off) sent to `tracing` when the
//! `tracing` feature is on, and compiled away when it is off. Protocol behaviour never
//! depends on them.

/// Expands to `tracing::$level!(..)` with the `tracing` feature, and to nothing without it
/// (CI builds core both ways, so neither hides an error).
macro_rules! event {
    ($level:ident, $($arg:tt)*) => {{
        #[cfg(feature = "tracing")]
        ::tracing::$level!($($arg)*);
    }};
}

macro_rules! debug {
    ($($arg:tt)*) => { $crate::log::event!(debug, $($arg)*) };
}

macro_rules! info {
    ($($arg:tt)*) => { $crate::log::event!(info, $($arg)*) };
}

macro_rules! warning {
    ($($arg:tt)*) => { $crate::log::event!(warn, $($arg)*) };
}

pub(crate) use {debug, event, info, warning};
