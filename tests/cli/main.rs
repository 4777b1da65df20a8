//! Integration tests: the real binary, in sealed temporary repositories.

mod support;

mod accuracy;
mod hooks;
mod purge;
mod scan;
