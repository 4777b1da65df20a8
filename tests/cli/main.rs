//! Integration tests: the real binary, in sealed temporary repositories.

mod support;

mod purge;
mod scan;
