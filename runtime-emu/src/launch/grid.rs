//! The launch grid: `--grid X[,Y[,Z]]` program instances, run in linear
//! order with x fastest, then y, then z (the order of Triton's own CPU
//! interpreter, and the order in which atomics and overlapping stores of
//! different programs take effect).

use super::error::LaunchError;

/// The largest number of program instances a launch may have.
pub const MAX_PROGRAMS: u64 = 1 << 31;

/// A 3-D launch grid; every dimension is at least 1.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct Grid {
    pub x: u32,
    pub y: u32,
    pub z: u32,
}

impl Grid {
    /// A grid after validation: no empty dimension, at most [`MAX_PROGRAMS`] programs.
    pub fn new(x: u32, y: u32, z: u32) -> Result<Grid, LaunchError> {
        let text = format!("{x},{y},{z}");
        Grid::validate(Grid { x, y, z }, &text)
    }

    /// Parses `X`, `X,Y` or `X,Y,Z` (missing dimensions are 1).
    pub fn parse(text: &str) -> Result<Grid, LaunchError> {
        let err = |reason: String| LaunchError::Grid {
            text: text.to_string(),
            reason,
        };
        let parts: Vec<&str> = text.split(',').map(str::trim).collect();
        if parts.len() > 3 {
            return Err(err(format!(
                "a grid has at most 3 dimensions, got {}",
                parts.len()
            )));
        }
        let mut dims = [1u32; 3];
        for (i, part) in parts.iter().enumerate() {
            let value: u64 = part.parse().map_err(|_| {
                err(format!(
                    "dimension {} ({part:?}) is not a non-negative integer",
                    "xyz".as_bytes()[i] as char
                ))
            })?;
            dims[i] = u32::try_from(value)
                .map_err(|_| err(format!("more than 2^31 programs ({value} along one axis)")))?;
        }
        Grid::validate(
            Grid {
                x: dims[0],
                y: dims[1],
                z: dims[2],
            },
            text,
        )
    }

    fn validate(grid: Grid, text: &str) -> Result<Grid, LaunchError> {
        let err = |reason: String| LaunchError::Grid {
            text: text.to_string(),
            reason,
        };
        if grid.x == 0 || grid.y == 0 || grid.z == 0 {
            return Err(err("empty grid: every dimension must be at least 1".into()));
        }
        let total = grid.num_programs();
        if total > MAX_PROGRAMS {
            return Err(err(format!("{total} programs is more than 2^31")));
        }
        Ok(grid)
    }

    /// Total number of program instances.
    pub fn num_programs(&self) -> u64 {
        u64::from(self.x) * u64::from(self.y) * u64::from(self.z)
    }

    /// The program ids `[x, y, z]` of linear program number `index`.
    pub fn program_id(&self, index: u64) -> [u32; 3] {
        let x = index % u64::from(self.x);
        let rest = index / u64::from(self.x);
        let y = rest % u64::from(self.y);
        let z = rest / u64::from(self.y);
        [x as u32, y as u32, z as u32]
    }

    /// Every program id in launch order (x fastest, then y, then z).
    pub fn program_ids(&self) -> impl Iterator<Item = [u32; 3]> + '_ {
        (0..self.num_programs()).map(|i| self.program_id(i))
    }

    /// The grid size as `[x, y, z]`.
    pub fn dims(&self) -> [u32; 3] {
        [self.x, self.y, self.z]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_one_to_three_dimensions() {
        assert_eq!(Grid::parse("4").unwrap(), Grid { x: 4, y: 1, z: 1 });
        assert_eq!(Grid::parse("4,3").unwrap(), Grid { x: 4, y: 3, z: 1 });
        assert_eq!(Grid::parse("2, 3, 5").unwrap().num_programs(), 30);
    }

    #[test]
    fn launch_order_is_x_fastest() {
        let g = Grid::parse("2,2,2").unwrap();
        let ids: Vec<_> = g.program_ids().collect();
        assert_eq!(ids[0], [0, 0, 0]);
        assert_eq!(ids[1], [1, 0, 0]);
        assert_eq!(ids[2], [0, 1, 0]);
        assert_eq!(ids[4], [0, 0, 1]);
        assert_eq!(ids[7], [1, 1, 1]);
    }

    #[test]
    fn rejects_bad_grids_naming_the_argument() {
        for bad in [
            "",
            "0",
            "4,0",
            "1,2,3,4",
            "x",
            "-1",
            "65536,65536",
            "4294967296",
        ] {
            let err = Grid::parse(bad).unwrap_err().to_string();
            assert!(err.starts_with("--grid"), "{bad}: {err}");
        }
        assert!(
            Grid::parse("65536,32768").is_ok(),
            "exactly 2^31 programs is allowed"
        );
        assert!(Grid::parse("0")
            .unwrap_err()
            .to_string()
            .contains("empty grid"));
    }
}
