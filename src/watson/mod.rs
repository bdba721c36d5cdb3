//! The typed client for the IBM Speech to Text and Text to Speech customization APIs.
pub mod operation;
pub use operation::Operation;
