//! Integration tests: the real binary, in sealed temporary repositories.

mod support;

mod accuracy;
mod advice;
mod context;
mod envfiles;
mod hooks;
mod key_workflows;
mod keys;
mod providers;
mod purge;
mod scan;
