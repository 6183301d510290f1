//! Choosing the compute device: a real GPU when there is one, lavapipe otherwise.

// The probe is only called with CUDA; its messages are tested in every build.
#[cfg(any(feature = "cuda", test))]
mod cuda;

use crate::EngineError;
use cubecl::device::WgpuDeviceKind;
use cubecl::prelude::*;
use cubecl::Device;

/// What the user asked for with `--device`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceChoice {
    /// The best device present: CUDA (if compiled in), then a discrete or integrated GPU
    /// through Vulkan/Metal/DX12, then whatever wgpu offers (lavapipe on CPU-only hosts).
    #[default]
    Auto,
    /// NVIDIA through CUDA (needs the `cuda` cargo feature).
    Cuda,
    /// The first GPU-class adapter that wgpu finds (Vulkan, Metal or DX12).
    Vulkan,
    /// The CPU, through a software Vulkan driver (Mesa lavapipe).
    Cpu,
}

impl std::str::FromStr for DeviceChoice {
    type Err = EngineError;

    fn from_str(s: &str) -> Result<Self, EngineError> {
        match s {
            "auto" => Ok(DeviceChoice::Auto),
            "cuda" => Ok(DeviceChoice::Cuda),
            "vulkan" | "wgpu" => Ok(DeviceChoice::Vulkan),
            "cpu" => Ok(DeviceChoice::Cpu),
            other => Err(EngineError::Device {
                requested: other.to_string(),
                reason: "unknown device (expected auto, cuda, vulkan or cpu)".into(),
            }),
        }
    }
}

impl DeviceChoice {
    /// The device for kernel tests: CUDA when compiled in, otherwise any wgpu device.
    pub fn test_default() -> DeviceChoice {
        if cfg!(feature = "cuda") {
            DeviceChoice::Cuda
        } else {
            DeviceChoice::Auto
        }
    }

    pub fn open(self) -> Result<Gpu, EngineError> {
        keep_compiled_kernels();
        let unavailable = |reason: String| EngineError::Device {
            requested: format!("{self:?}").to_lowercase(),
            reason,
        };
        let device = match self {
            DeviceChoice::Cuda => open_cuda().map_err(unavailable)?,
            DeviceChoice::Vulkan => [
                WgpuDeviceKind::DiscreteGpu(0),
                WgpuDeviceKind::IntegratedGpu(0),
            ]
            .into_iter()
            .find_map(|kind| Device::wgpu(kind).ok())
            .ok_or_else(|| unavailable("no GPU adapter found by wgpu".into()))?,
            DeviceChoice::Cpu => Device::vulkan(WgpuDeviceKind::Cpu).map_err(|e| {
                unavailable(format!(
                    "{e} (install a software Vulkan driver, e.g. Debian's mesa-vulkan-drivers)"
                ))
            })?,
            DeviceChoice::Auto => open_cuda()
                .inspect_err(|reason| {
                    if cfg!(feature = "cuda") {
                        tracing::info!("not on CUDA: {reason}");
                    }
                })
                .or_else(|_| Device::wgpu(WgpuDeviceKind::DiscreteGpu(0)))
                .or_else(|_| Device::wgpu(WgpuDeviceKind::IntegratedGpu(0)))
                .or_else(|_| Device::wgpu(WgpuDeviceKind::DefaultDevice))
                .map_err(|e| unavailable(format!("no compute device found: {e}")))?,
        };
        let client = device.client();
        // The adapter as it names itself ("NVIDIA H100 PCIe", "llvmpipe (LLVM 15.0.6, 256
        // bits)") and the runtime/compiler path ("wgpu<wgsl>", "cuda").
        let runtime = client.name();
        let adapter = &client.properties().identity.name;
        // lavapipe's speed is its Mesa release's (docs/performance.md, "Compiler path and
        // Mesa"), so a benchmark names it: "llvmpipe (LLVM 15.0.6, 256 bits) Mesa 25.0.7".
        let mesa = adapter
            .starts_with("llvmpipe")
            .then(lavapipe_mesa_release)
            .flatten();
        let name = match &mesa {
            Some(release) => format!(
                "{adapter} Mesa {release}{} [{runtime}]",
                lavapipe_tuned_cpu()
                    .map(|cpu| format!(", JIT tuned for {cpu}"))
                    .unwrap_or_default()
            ),
            None => format!("{adapter} [{runtime}]"),
        };
        let major = |release: &str| release.split('.').next()?.parse::<u32>().ok();
        if runtime.contains("spirv") && mesa.as_deref().and_then(major).is_some_and(|m| m < 25) {
            // Mesa 22's lavapipe runs these kernels' SPIR-V ~3× slower than Mesa 25's.
            tracing::warn!(
                "kernels run on Mesa {}'s lavapipe, ~3× slower than Mesa 25's: \
                 scripts/setup.sh unpacks Mesa 25 into .mesa/ and `. scripts/mesa-env.sh` \
                 selects it (or build with --no-default-features for the WGSL path)",
                mesa.as_deref().unwrap_or_default()
            );
        }
        Ok(Gpu {
            name,
            device,
            client,
        })
    }
}

/// CUDA device 0, or why not, in one line.
#[cfg(feature = "cuda")]
fn open_cuda() -> Result<Device, String> {
    if let Some(missing) = cuda::CudaLibraries::probe().missing() {
        return Err(missing);
    }
    Device::cuda(0).map_err(|e| match e {
        cubecl::device::DeviceUnavailable::NoSuchDevice { .. } => {
            "the NVIDIA driver loads but reports no CUDA device (CUDA_VISIBLE_DEVICES?)".to_string()
        }
        other => other.to_string(),
    })
}

/// The CPU lavapipe's JIT tunes its code for when `scripts/mesa-env.sh` has preloaded
/// `scripts/llvm-host-cpu.c` (AMD Zen 3/4), so that a benchmark says which code it timed.
fn lavapipe_tuned_cpu() -> Option<String> {
    let preloaded = std::env::var("LD_PRELOAD").ok()?;
    let cpu = std::env::var("SIGHTLINE_LAVAPIPE_CPU").ok()?;
    // The shim answers as LLVM would for an empty or "native" variable.
    (preloaded.contains("libllvm-host-cpu.so") && !cpu.is_empty() && cpu != "native").then_some(cpu)
}

/// The Mesa release of the lavapipe that Vulkan offers ("25.0.7-2~bpo12+1"), from the
/// driver's own report; `None` where there is none or it does not say.
fn lavapipe_mesa_release() -> Option<String> {
    // Asked once a process: it takes a Vulkan instance of its own, and tests open many
    // devices.
    static RELEASE: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    RELEASE.get_or_init(read_lavapipe_mesa_release).clone()
}

fn read_lavapipe_mesa_release() -> Option<String> {
    use cubecl::wgpu::wgpu;
    let mut descriptor = wgpu::InstanceDescriptor::new_without_display_handle();
    descriptor.backends = wgpu::Backends::VULKAN;
    let instance = wgpu::Instance::new(descriptor);
    let adapters = cubecl::future::block_on(instance.enumerate_adapters(wgpu::Backends::VULKAN));
    adapters
        .iter()
        .map(|adapter| adapter.get_info())
        .find(|info| info.name.starts_with("llvmpipe"))
        .and_then(|info| mesa_release(&info.driver_info))
}

/// "25.0.7-2~bpo12+1" of a driver report "Mesa 25.0.7-2~bpo12+1 (LLVM 15.0.6)".
fn mesa_release(driver_info: &str) -> Option<String> {
    let release = driver_info
        .strip_prefix("Mesa ")?
        .split_whitespace()
        .next()?;
    release
        .starts_with(|c: char| c.is_ascii_digit())
        .then(|| release.to_string())
}

/// Keeps the kernels cubecl compiles to SPIR-V on disk (`~/.cache/cubecl`, keyed by the
/// build and the adapter): on lavapipe that compilation is most of a start-up, 5 s of
/// 5.4 with YOLOX-Nano, and Mesa's own cache holds only what comes after it. A
/// `cubecl.toml` or `CUBECL_*` variable of the user's is read first and kept.
fn keep_compiled_kernels() {
    #[cfg(feature = "spirv")]
    {
        use cubecl::config::{CubeClRuntimeConfig, RuntimeConfig};
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            let mut config = CubeClRuntimeConfig::from_current_dir().override_from_env();
            config.compilation.cache = true;
            if !CubeClRuntimeConfig::try_set(config) {
                tracing::debug!("cubecl's configuration was set before the device opened");
            }
        });
    }
}

#[cfg(not(feature = "cuda"))]
fn open_cuda() -> Result<Device, String> {
    Err("this build has no CUDA (cargo build --features cuda)".into())
}

/// An opened device and its compute client.
#[derive(Clone)]
pub struct Gpu {
    device: Device,
    client: Client,
    name: String,
}

impl Gpu {
    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Adapter and runtime, for logs and benchmark tables.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Waits until every launched kernel has finished.
    pub fn sync(&self) -> Result<(), EngineError> {
        cubecl::future::block_on(self.client.sync())
            .map_err(|e| EngineError::Execution(format!("{e:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `--device cuda` says here: that the build has no CUDA, or which library the
    /// machine lacks (cuda.rs tests each message); a machine with both opens the device.
    #[test]
    fn cuda_says_in_one_line_what_is_missing() {
        #[cfg(feature = "cuda")]
        let missing = cuda::CudaLibraries::probe().missing();
        #[cfg(not(feature = "cuda"))]
        let missing = Some("this build has no CUDA (cargo build --features cuda)".to_string());
        match (missing, DeviceChoice::Cuda.open()) {
            (Some(reason), Err(e)) => assert_eq!(
                e.to_string(),
                format!("device \"cuda\" unavailable: {reason}")
            ),
            (None, Ok(_)) => {}
            (missing, Ok(gpu)) => panic!("opened {} although {missing:?}", gpu.name()),
            (None, Err(e)) => panic!("{e}, with libcuda and libnvrtc present"),
        }
    }

    #[test]
    fn mesa_release_read_from_the_driver_report() {
        for (report, release) in [
            (
                "Mesa 25.0.7-2~bpo12+1 (LLVM 15.0.6)",
                Some("25.0.7-2~bpo12+1"),
            ),
            ("Mesa 22.3.6", Some("22.3.6")),
            ("Mesa", None),
            ("Mesa (LLVM 15.0.6)", None),
            ("535.104.05", None),
            ("", None),
        ] {
            assert_eq!(mesa_release(report).as_deref(), release, "{report:?}");
        }
    }

    /// On a machine whose Vulkan is lavapipe, the device's name says which Mesa.
    #[test]
    fn a_lavapipe_device_names_its_mesa_release() {
        let gpu = DeviceChoice::Auto.open().expect("a device");
        if gpu.name().starts_with("llvmpipe") {
            assert!(gpu.name().contains(" Mesa "), "{}", gpu.name());
        }
    }
}
