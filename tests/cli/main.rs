//! Integration tests: the real binary, in sealed temporary repositories.

mod support;

mod accuracy;
mod ci;
mod context;
mod hooks;
mod keys;
mod pre_commit_framework;
mod providers;
mod purge;
mod scan;
mod shell;
