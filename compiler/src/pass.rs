//! The pass interface: a [`Pass`] transforms one IR level in place; a
//! [`PassList`] runs passes in order, optionally printing the IR after each.
//!
//! The pipeline has several IR levels (TTIR, tile IR, scheduled IR); a pass is
//! generic over the level it works on, so a user can add a pass at any stage
//! by implementing `Pass<L>` for that level and handing it to the
//! [`crate::driver::PassManager`](crate) at the matching insertion point.

use maiac_ir::Diagnostic;

/// Shared state handed to every pass: options and a log of what ran.
#[derive(Debug, Default)]
pub struct PassContext {
    /// Print the IR after every pass (`--print-ir-after-all`).
    pub print_ir_after_all: bool,
    /// Printed IR dumps, in order: (pass name, IR text). Collected rather
    /// than printed so the driver decides where they go (stderr, tests).
    pub dumps: Vec<(String, String)>,
    /// Names of passes that ran, in order.
    pub ran: Vec<String>,
}

/// An IR level that can be printed for `--print-ir-after-all` and snapshots.
pub trait IrLevel {
    /// Renders the IR as text.
    fn render(&self) -> String;
}

/// A transformation of one IR level.
pub trait Pass<L: IrLevel> {
    /// A short kebab-case name (`cse`, `licm`, ...), shown in dumps.
    fn name(&self) -> &str;

    /// Runs the pass. A user-visible problem (a kernel the pass cannot
    /// handle) is a located [`Diagnostic`], never a panic.
    fn run(&mut self, ir: &mut L, cx: &mut PassContext) -> Result<(), Diagnostic>;
}

/// An ordered list of passes over one IR level.
pub struct PassList<L: IrLevel> {
    passes: Vec<Box<dyn Pass<L>>>,
}

impl<L: IrLevel> Default for PassList<L> {
    fn default() -> Self {
        PassList { passes: Vec::new() }
    }
}

impl<L: IrLevel> PassList<L> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a pass.
    pub fn add(&mut self, pass: impl Pass<L> + 'static) -> &mut Self {
        self.passes.push(Box::new(pass));
        self
    }

    /// Appends a boxed pass.
    pub fn add_boxed(&mut self, pass: Box<dyn Pass<L>>) -> &mut Self {
        self.passes.push(pass);
        self
    }

    /// Inserts a pass right after the pass named `after` (or at the end if
    /// there is none of that name). Returns whether `after` was found.
    pub fn insert_after(&mut self, after: &str, pass: Box<dyn Pass<L>>) -> bool {
        match self.passes.iter().position(|p| p.name() == after) {
            Some(i) => {
                self.passes.insert(i + 1, pass);
                true
            }
            None => {
                self.passes.push(pass);
                false
            }
        }
    }

    /// Inserts a pass right before the pass named `before` (or first if
    /// there is none of that name). Returns whether `before` was found.
    pub fn insert_before(&mut self, before: &str, pass: Box<dyn Pass<L>>) -> bool {
        match self.passes.iter().position(|p| p.name() == before) {
            Some(i) => {
                self.passes.insert(i, pass);
                true
            }
            None => {
                self.passes.insert(0, pass);
                false
            }
        }
    }

    /// Removes every pass named `name` (e.g. to compare a kernel with and
    /// without one). Returns whether any was found.
    pub fn remove(&mut self, name: &str) -> bool {
        let before = self.passes.len();
        self.passes.retain(|p| p.name() != name);
        self.passes.len() != before
    }

    /// The names of the passes, in order.
    pub fn names(&self) -> Vec<String> {
        self.passes.iter().map(|p| p.name().to_string()).collect()
    }

    /// Runs every pass in order.
    pub fn run(&mut self, ir: &mut L, cx: &mut PassContext) -> Result<(), Diagnostic> {
        for pass in &mut self.passes {
            pass.run(ir, cx)?;
            cx.ran.push(pass.name().to_string());
            if cx.print_ir_after_all {
                cx.dumps.push((pass.name().to_string(), ir.render()));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Text(String);
    impl IrLevel for Text {
        fn render(&self) -> String {
            self.0.clone()
        }
    }

    struct Append(&'static str);
    impl Pass<Text> for Append {
        fn name(&self) -> &str {
            self.0
        }
        fn run(&mut self, ir: &mut Text, _cx: &mut PassContext) -> Result<(), Diagnostic> {
            ir.0.push_str(self.0);
            Ok(())
        }
    }

    #[test]
    fn runs_in_order_and_dumps() {
        let mut list = PassList::new();
        list.add(Append("a")).add(Append("c"));
        assert!(list.insert_after("a", Box::new(Append("b"))));
        let mut cx = PassContext {
            print_ir_after_all: true,
            ..Default::default()
        };
        let mut ir = Text(String::new());
        list.run(&mut ir, &mut cx).unwrap();
        assert_eq!(ir.0, "abc");
        assert_eq!(cx.ran, ["a", "b", "c"]);
        assert_eq!(cx.dumps.last().unwrap().1, "abc");
    }
}
