//! Integration tests: the real binary, in sealed temporary repositories.

mod support;

mod keys;
mod providers;
mod scan;
