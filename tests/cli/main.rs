//! Integration tests: the real binary, in sealed temporary repositories.

mod support;

mod accuracy;
mod ci;
mod context;
mod hooks;
mod keys;
mod providers;
mod purge;
mod scan;
mod shell;
