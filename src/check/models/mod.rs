//! The built-in sequential models: registers and a key-value store.
pub mod kv;
pub mod register;

pub use kv::KvModel;
pub use register::{Conventions, NilRead, RegisterModel};
