//! Integration tests: the real binary, in sealed temporary repositories.

mod support;

mod accuracy;
mod context;
mod envfiles;
mod hooks;
mod key_workflows;
mod keys;
mod providers;
mod purge;
mod rotate;
mod scan;
