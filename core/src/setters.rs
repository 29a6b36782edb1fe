//! Builder-style setters for configuration structs.
//!
//! Configurations are `#[non_exhaustive]`, so that a field added later does not break a
//! struct literal downstream. Outside their crate they are built from `default()` (or a
//! constructor) with one setter per field, named after the field:
//!
//! ```
//! use palisade_core::lease::LeaseConfig;
//! use std::time::Duration;
//!
//! let config = LeaseConfig::default().term(Duration::from_secs(5)).max_drift_ppm(200);
//! assert_eq!(config.term, Duration::from_secs(5));
//! ```

/// Writes `pub fn field(mut self, field: T) -> Self` for each listed field, inside an
/// `impl` block. Exported for the other palisade crates' configurations; not for use
/// elsewhere.
#[doc(hidden)]
#[macro_export]
macro_rules! __config_setters {
    ($($field:ident: $ty:ty),* $(,)?) => {
        $(
            #[doc = concat!("This configuration with `", stringify!($field), "` set to the value given.")]
            #[must_use]
            pub fn $field(mut self, $field: $ty) -> Self {
                self.$field = $field;
                self
            }
        )*
    };
}
