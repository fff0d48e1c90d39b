//! Helpers shared by the test modules: the real binary as a test fixture, plain HTTP to it, and case tables.

pub mod cli;
pub mod emulator_process;
pub mod http;
pub mod table;
