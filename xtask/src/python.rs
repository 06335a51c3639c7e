//! Finding and running Python: one implementation, gil-core's [`gil_core::python`], shared with
//! lesson 6. Every run goes through [`gil_core::process`], so xtask's isolation guarantees hold.

pub use gil_core::python::*;
