//! Bit-exact number formats shared by the reference interpreter and the emulator.
