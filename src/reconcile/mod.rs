//! The reconcilers. The decision of the next action is pure and lives in [`decide`]; the
//! reconcilers gather facts, call it, perform one action and write status.
pub mod decide;
