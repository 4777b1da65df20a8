//! Integration tests: the real binary, in sealed temporary repositories.

mod support;

mod accuracy;
mod advice;
mod ci;
mod context;
mod envfiles;
mod hooks;
mod incident;
mod key_workflows;
mod keys;
mod pre_commit_framework;
mod providers;
mod purge;
mod purge_push;
mod purge_resume;
mod rotate;
mod scan;
mod shell;
