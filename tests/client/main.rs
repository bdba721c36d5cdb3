//! The IBM client (`watson_speech_operator::watson`): against a scripted HTTP server that records
//! every request (`scripted`) and against the in-process simulator (`sim`); the Cloud Pak for
//! Data and trusted-profile token managers against the simulator (`token_managers`). No control
//! plane.

mod scripted;
mod sim;

mod auth;
mod errors;
mod lifecycle;
mod recognition;
mod requests;
mod retry;
mod timeouts;
mod token_managers;
