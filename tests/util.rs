//! Helpers shared by the test modules: the real binary as a test fixture.

pub mod cli;
pub mod emulator_process;
