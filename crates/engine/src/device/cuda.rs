//! What the CUDA runtime needs from the machine, asked before a CUDA device is opened.
//!
//! cubecl-cuda loads the NVIDIA driver (libcuda) and NVRTC (libnvrtc, which compiles every
//! kernel at run time) on first use and panics when one is missing, or fails at the first
//! kernel when the driver is older than NVRTC. Asking first turns each of those into one
//! line at start-up, and lets `auto` go on to wgpu.

/// The two libraries the CUDA runtime loads, as this machine has them. Versions are
/// CUDA's encoding, 1000 × major + 10 × minor (12060 for 12.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CudaLibraries {
    /// The newest CUDA the driver supports (`cuDriverGetVersion`), if libcuda loads.
    pub driver: Option<i32>,
    /// NVRTC's own version (`nvrtcVersion`), if libnvrtc loads.
    pub nvrtc: Option<i32>,
}

/// Where NVRTC comes from, for the messages that say it is missing.
const NVRTC_HINT: &str = "install the CUDA toolkit, or the PyPI wheel \
     nvidia-cuda-nvrtc-cu12 with its nvidia/cuda_nvrtc/lib on LD_LIBRARY_PATH";

impl CudaLibraries {
    /// Loads both the way cubecl-cuda will (cudarc's names and search path).
    #[cfg(feature = "cuda")]
    pub fn probe() -> Self {
        use cudarc::{driver, nvrtc};
        // SAFETY: `is_culib_present` only tries to dlopen each candidate name. The version
        // calls run only once their library loaded, write into locals that outlive them,
        // and need no initialised driver or NVRTC program.
        unsafe {
            let driver = if driver::sys::is_culib_present() {
                let mut version = 0;
                let status = driver::sys::cuDriverGetVersion(&mut version);
                (status == driver::sys::CUresult::CUDA_SUCCESS).then_some(version)
            } else {
                None
            };
            let nvrtc = if nvrtc::sys::is_culib_present() {
                let (mut major, mut minor) = (0, 0);
                let status = nvrtc::sys::nvrtcVersion(&mut major, &mut minor);
                (status == nvrtc::sys::nvrtcResult::NVRTC_SUCCESS)
                    .then_some(1000 * major + 10 * minor)
            } else {
                None
            };
            CudaLibraries { driver, nvrtc }
        }
    }

    /// Why CUDA cannot run here, in one line; `None` when it can.
    pub fn missing(&self) -> Option<String> {
        match (self.driver, self.nvrtc) {
            (None, None) => Some(format!(
                "no NVIDIA driver (libcuda.so.1 does not load) and no NVRTC (libnvrtc.so.12 \
                 does not load; {NVRTC_HINT})"
            )),
            (None, Some(_)) => Some(
                "no NVIDIA driver: libcuda.so.1 does not load (no NVIDIA GPU here, or a \
                 container without the driver mounted)"
                    .into(),
            ),
            (Some(_), None) => Some(format!(
                "no NVRTC, which compiles the kernels: libnvrtc.so.12 does not load \
                 ({NVRTC_HINT})"
            )),
            // PTX from a newer NVRTC is refused by an older driver at the first kernel.
            (Some(driver), Some(nvrtc)) if nvrtc > driver => Some(format!(
                "the NVIDIA driver supports CUDA up to {} but NVRTC is {}: the driver cannot \
                 load the PTX it writes (use an NVRTC no newer than the driver)",
                version(driver),
                version(nvrtc)
            )),
            (Some(_), Some(_)) => None,
        }
    }
}

/// 12060 → "12.6".
fn version(v: i32) -> String {
    format!("{}.{}", v / 1000, v % 1000 / 10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_machine_without_the_driver_is_told_so_in_one_line() {
        let libs = CudaLibraries {
            driver: None,
            nvrtc: Some(12060),
        };
        let message = libs.missing().expect("CUDA cannot run without a driver");
        assert_eq!(
            message,
            "no NVIDIA driver: libcuda.so.1 does not load (no NVIDIA GPU here, or a container \
             without the driver mounted)"
        );
    }

    #[test]
    fn each_missing_library_is_named() {
        let neither = CudaLibraries {
            driver: None,
            nvrtc: None,
        };
        let message = neither.missing().unwrap();
        assert!(
            message.contains("libcuda") && message.contains("libnvrtc"),
            "{message}"
        );
        let no_nvrtc = CudaLibraries {
            driver: Some(13000),
            nvrtc: None,
        };
        let message = no_nvrtc.missing().unwrap();
        assert!(message.starts_with("no NVRTC"), "{message}");
        assert!(message.contains("nvidia-cuda-nvrtc-cu12"), "{message}");
        for message in [neither.missing().unwrap(), no_nvrtc.missing().unwrap()] {
            assert!(!message.contains('\n'), "{message}");
        }
    }

    #[test]
    fn nvrtc_may_be_older_than_the_driver_but_not_newer() {
        let libs = |driver, nvrtc| CudaLibraries {
            driver: Some(driver),
            nvrtc: Some(nvrtc),
        };
        assert_eq!(libs(13000, 12060).missing(), None);
        assert_eq!(libs(12060, 12060).missing(), None);
        let message = libs(12040, 12060).missing().unwrap();
        assert!(
            message.contains("up to 12.4 but NVRTC is 12.6"),
            "{message}"
        );
    }
}
