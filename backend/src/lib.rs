//! The Maia-like target: machine model, ISA, binary container, assembler and disassembler.
